// -v and -c on real files: package versions against dpkg-query, checksums against
// md5sum/sha256sum, and no checksum keys on files that are not executable.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(20_000);
const skip = skipWithoutKernel("end-to-end version and checksum tests");

function output(...argv: string[]): string {
  const r = Bun.spawnSync(argv);
  expect(r.exitCode).toBe(0);
  return r.stdout.toString().trim();
}

describe.skipIf(skip)("-v and -c", () => {
  let agent: RunningAgent;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/kflowd-enrich-`);
    agent = await RunningAgent.start(["-o", "json-min", "-m", "file", "-v", "-c"]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  function execRecord(path: string, pid: number): Promise<Json> {
    return agent.waitFor(
      () => agent.fileRecords(path).find((r) => r.ProcPID === pid && (r.FileEvents as Record<string, number>).OPEN_EXEC),
      `the exec record of ${path}`,
    );
  }

  test("a packaged program: ProcVersion and FileVersion are its package's version, checksums those of the file", async () => {
    const version = output("dpkg-query", "-W", "-f=${Version}", "coreutils");
    const p = Bun.spawn(["/usr/bin/true"]);
    expect(await p.exited).toBe(0);
    const r = await execRecord("/usr/bin/true", p.pid);
    expect(r).toMatchObject({ Proc: "true", ProcVersion: version, FileVersion: version });
    expect(r.FileMD5).toBe(output("md5sum", "/usr/bin/true").split(" ")[0]);
    expect(r.FileSHA256).toBe(output("sha256sum", "/usr/bin/true").split(" ")[0]);
    const keys = Object.keys(r);
    expect(keys.indexOf("ProcVersion")).toBe(keys.indexOf("Proc") + 1);
    expect(keys.indexOf("FileVersion")).toBe(keys.indexOf("File") + 1);
    // kflowd's keys end with the checksums; only the cgroup of the process follows
    expect(keys.slice(keys.indexOf("FileMD5"))).toEqual(["FileMD5", "FileSHA256", "ProcCgroup"]);
  });

  test("an unpackaged executable: empty versions, its own checksums", async () => {
    const exe = `${dir}/private-true`;
    copyFileSync("/usr/bin/true", exe);
    chmodSync(exe, 0o755);
    await agent.waitForFile(exe);
    const p = Bun.spawn([exe]);
    expect(await p.exited).toBe(0);
    const r = await execRecord(exe, p.pid);
    expect(r).toMatchObject({ ProcVersion: "", FileVersion: "" });
    expect(r.FileMD5).toBe(output("md5sum", exe).split(" ")[0]);
    expect(r.FileSHA256).toBe(output("sha256sum", exe).split(" ")[0]);
  });

  test("a file without execute bits has no version or checksum keys", async () => {
    const path = `${dir}/plain.txt`;
    writeFileSync(path, "plain");
    const [r] = await agent.waitForFile(path);
    expect(r).not.toHaveProperty("FileVersion");
    expect(r).not.toHaveProperty("FileMD5");
    expect(r).not.toHaveProperty("FileSHA256");
    expect(r).toHaveProperty("ProcVersion");
  });
});
