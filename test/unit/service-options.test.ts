// packaging/kflowd.default turns each output on by one line: with every such line
// uncommented, the command line the unit's ExecStart makes is valid and sets each output.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseArgs } from "../../src/cli.ts";
import { buildConfig } from "../../src/config.ts";
import { ROOT } from "../helpers/paths.ts";

/** VAR="value" lines of an EnvironmentFile, after removing the '#' of commented ones if asked. */
function assignments(text: string, uncomment: boolean): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = uncomment && /^#KFLOWD_\w+=/.test(raw) ? raw.slice(1) : raw;
    const m = /^(KFLOWD_\w+)="(.*)"$/.exec(line);
    if (m) vars.set(m[1]!, m[2]!);
  }
  return vars;
}

/** The arguments ExecStart gives kflowd: each $VAR split at whitespace, unset ones nothing. */
function execStartArgs(vars: Map<string, string>): string[] {
  const unit = readFileSync(`${ROOT}packaging/kflowd.service`, "utf8");
  const exec = /^ExecStart=\/usr\/bin\/kflowd (.*)$/m.exec(unit)![1]!;
  return exec.split(" ").flatMap((word) => (vars.get(word.slice(1)) ?? "").split(/\s+/).filter(Boolean));
}

describe("service options", () => {
  const text = readFileSync(`${ROOT}packaging/kflowd.default`, "utf8");

  test("as shipped: JSON lines to the journal, no other output", () => {
    const c = buildConfig(parseArgs(execStartArgs(assignments(text, false))));
    expect(c).toMatchObject({ output: "json-min", quiet: false });
    expect([c.syslog, c.outputFile, c.metrics]).toEqual([undefined, undefined, undefined]);
  });

  test("each output line uncommented: the relay over TLS with a client certificate, the file, the metrics", () => {
    const vars = assignments(text, true);
    expect([...vars.keys()].sort()).toEqual(["KFLOWD_FILE", "KFLOWD_METRICS", "KFLOWD_OPTS", "KFLOWD_SYSLOG"]);
    vars.set("KFLOWD_OPTS", `${vars.get("KFLOWD_OPTS")} -q`);
    const c = buildConfig(parseArgs(execStartArgs(vars)));
    expect(c.quiet).toBe(true);
    expect(c.syslog).toMatchObject({ scheme: "tls", port: 6514, ca: "/etc/kflowd/relay-ca.pem", cert: "/etc/kflowd/agent.pem" });
    expect(c.outputFile).toEqual({ path: "/var/log/kflowd/records.json", maxBytes: 100 << 20, keep: 5 });
    expect(c.metrics).toEqual({ host: "127.0.0.1", port: 9464, family: 4 });
    // the file's directory is the unit's LogsDirectory, writable under ProtectSystem=strict
    expect(readFileSync(`${ROOT}packaging/kflowd.service`, "utf8")).toMatch(/^LogsDirectory=kflowd$/m);
  });
});
