// --syslog against a real rsyslog (Debian's rsyslogd with a private configuration, see
// test/helpers/rsyslog.ts): plain TCP and TLS with a CA, a server certificate and a
// client certificate made here; rsyslog restarted under traffic with every record counted
// on the other side; a relay that never comes back (bounded memory, every record counted
// as dropped). Each test stops the agents and relays it started.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { makeCerts, type TestCerts } from "../helpers/certs.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { Rsyslog } from "../helpers/rsyslog.ts";
import { AgentProcess, type Json } from "./agent-process.ts";

setDefaultTimeout(120_000);
const skip = skipWithoutKernel("end-to-end syslog relay tests");
const dir = skip ? "" : mkdtempSync(`${tmpdir()}/kflowd-syslog-`);
const certs: TestCerts | undefined = skip ? undefined : makeCerts(`${dir}/certs`);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A TCP port free on 127.0.0.1 (bound, then released). */
function freeTcpPort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/**
 * Opens and closes `count` files in churnDir: one file record each; yields to the event
 * loop every 200 files and at the end, so that the agent's output is read meanwhile.
 */
async function churn(churnDir: string, count: number, name = "f"): Promise<void> {
  for (let i = 0; i < count; i++) {
    closeSync(openSync(`${churnDir}/${name}${i % 64}`, "w"));
    if (i % 200 === 199) await Bun.sleep(1);
  }
  await Bun.sleep(1);
}

const seqOf = (r: Json): number => r.InfoSequenceNumber as number;

/** The sequence numbers the relay holds (parsed from each message's JSON). */
function relaySeqs(relay: Rsyslog): Set<number> {
  return new Set(relay.messages().map((m) => seqOf(JSON.parse(m.msg) as Json)));
}

/** Waits until the relay holds every one of seqs. */
async function waitForAll(relay: Rsyslog, seqs: readonly number[], what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const held = relaySeqs(relay);
    const missing = seqs.filter((s) => !held.has(s));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: ${missing.length} of ${seqs.length} records never reached the relay (first: ${missing.slice(0, 5).join(", ")}); relay stderr: ${relay.stderr}`,
      );
    }
    await Bun.sleep(100);
  }
}

function reap(agent: AgentProcess | undefined): void {
  if (agent?.alive()) process.kill(agent.pid, "SIGKILL");
}

describe.skipIf(skip)("syslog relay (rsyslog)", () => {
  test("plain TCP: every record stdout shows reaches rsyslog, byte for byte, with host, app and PID", async () => {
    const relay = new Rsyslog(`${dir}/plain`, freeTcpPort());
    const churnDir = `${dir}/plain-churn`;
    mkdirSync(churnDir, { recursive: true });
    let agent: AgentProcess | undefined;
    try {
      await relay.start();
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file", "--syslog", `tcp://127.0.0.1:${relay.port}`]);
      await churn(churnDir, 2000);
      await agent.waitFor(() => agent!.records.length >= 2000, "2000 records on stdout", 30_000);
      expect(await agent.stop()).toBe(0);
      await waitForAll(relay, agent.records.map(seqOf), "plain TCP");
      const byText = new Set(relay.messages().map((m) => m.msg));
      expect(agent.lines.filter((l) => !byText.has(l))).toEqual([]);
      const first = relay.messages()[0]!;
      expect(first.app).toBe("kflowd");
      expect(first.procid).toBe(String(agent.pid));
      expect(first.hostname).toBe(String(agent.records[0]!.InfoHostName));
      const { records, lost } = agent.summary();
      expect(records).toBe(agent.records.length);
      expect(lost["syslog dropped"]).toBe(0);
      // each record once: nothing was sent again on this one connection
      expect(relay.messages().length).toBe(records);
      expect(agent.strayStderr()).toEqual([]);
      expect(agent.stderr).not.toContain("kflowd: syslog");
    } finally {
      reap(agent);
      await relay.stop();
    }
  });

  test("TLS with a CA, the relay's certificate and the agent's client certificate (checked by name)", async () => {
    const relay = new Rsyslog(`${dir}/tls`, freeTcpPort(), certs);
    const churnDir = `${dir}/tls-churn`;
    mkdirSync(churnDir, { recursive: true });
    let agent: AgentProcess | undefined;
    try {
      await relay.start();
      agent = await AgentProcess.start([
        "-o",
        "json-min",
        "-m",
        "file",
        "--syslog",
        `tls://localhost:${relay.port}`,
        "--syslog-ca",
        certs!.ca,
        "--syslog-cert",
        certs!.clientCert,
        "--syslog-key",
        certs!.clientKey,
      ]);
      await churn(churnDir, 500);
      await agent.waitFor(() => agent!.records.length >= 500, "500 records on stdout", 30_000);
      expect(await agent.stop()).toBe(0);
      await waitForAll(relay, agent.records.map(seqOf), "TLS");
      const byText = new Set(relay.messages().map((m) => m.msg));
      expect(agent.lines.filter((l) => !byText.has(l))).toEqual([]);
      expect(agent.summary().lost["syslog dropped"]).toBe(0);
      expect(agent.strayStderr()).toEqual([]);
      expect(agent.stderr).not.toContain("kflowd: syslog");
    } finally {
      reap(agent);
      await relay.stop();
    }
  });

  test("TLS: a CA that did not sign the relay's certificate is refused; the agent says so once and runs on", async () => {
    const relay = new Rsyslog(`${dir}/tls-wrong-ca`, freeTcpPort(), certs);
    let agent: AgentProcess | undefined;
    try {
      await relay.start();
      agent = await AgentProcess.start(
        ["-o", "json-min", "-m", "file", "--syslog", `tls://localhost:${relay.port}`, "--syslog-ca", certs!.otherCa],
        { stdout: "ignore" },
      );
      await agent.waitFor(() => agent!.stderr.includes("TLS handshake failed"), "the refusal");
      expect(agent.alive()).toBe(true);
      expect(await agent.stop()).toBe(0);
      expect(agent.stderr.match(/^kflowd: syslog .*$/gm)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^kflowd: syslog tls://localhost:${relay.port}: TLS handshake failed \\(.+\\); records are spooled \\(up to 32 MiB\\) and sent once it is back$`,
          ),
        ),
      ]);
      expect(relay.messages()).toEqual([]);
      // nothing reached the relay: every record printed is counted as dropped there
      const { records, lost } = agent.summary();
      expect(lost["syslog dropped"]).toBe(records);
    } finally {
      reap(agent);
      await relay.stop();
    }
  });

  test("rsyslog restarted under traffic: every record reaches it, lost ones are sent again", async () => {
    const relay = new Rsyslog(`${dir}/restart`, freeTcpPort());
    const churnDir = `${dir}/restart-churn`;
    mkdirSync(churnDir, { recursive: true });
    let agent: AgentProcess | undefined;
    try {
      await relay.start();
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file", "--syslog", `tcp://127.0.0.1:${relay.port}`]);
      const said = (what: RegExp): number => agent!.stderr.match(what)?.length ?? 0;
      // traffic before, during and after two restarts; each restart waits until the agent
      // is connected again, so that each outage is one the agent sees
      for (let round = 0; round < 2; round++) {
        await agent.waitFor(() => said(/connected after/g) === round, `connection ${round + 1}`, 30_000);
        await churn(churnDir, 3000, `r${round}-`);
        const stopping = relay.stop();
        await churn(churnDir, 1000, `r${round}-down-`);
        await stopping;
        for (const deadline = Date.now() + 30_000; said(/connection lost/g) === round; ) {
          if (Date.now() > deadline) throw new Error(`the agent did not see outage ${round + 1}:\n${agent.stderr}`);
          await churn(churnDir, 200, `r${round}-down-`);
        }
        await churn(churnDir, 2000, `r${round}-away-`);
        await relay.start();
        await churn(churnDir, 2000, `r${round}-back-`);
      }
      await agent.waitFor(() => said(/connected after/g) === 2, "the second reconnection", 30_000);
      await churn(churnDir, 1000, "after-");
      expect(await agent.stop()).toBe(0);
      const seqs = agent.records.map(seqOf);
      expect(seqs.length).toBeGreaterThan(16_000);
      await waitForAll(relay, seqs, "across two restarts");
      const { records, lost } = agent.summary();
      expect(records).toBe(seqs.length);
      expect(lost["syslog dropped"]).toBe(0);
      // the agent said each outage and each return, naming what it sends again
      expect(agent.stderr.match(/^kflowd: syslog tcp:\/\/127\.0\.0\.1:\d+: connection lost.*$/gm)).toHaveLength(2);
      const again = [...agent.stderr.matchAll(/connected after \d+\.\d s; sending the last (\d+) records again/g)].map((m) => Number(m[1]));
      expect(again).toHaveLength(2);
      // duplicates at the relay are those sent again, no more
      const duplicates = relay.messages().length - relaySeqs(relay).size;
      expect(duplicates).toBeLessThanOrEqual(again[0]! + again[1]!);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
      await relay.stop();
    }
  });

  test("a relay that never comes: memory stays bounded by the spool, every record counted as dropped", async () => {
    const churnDir = `${dir}/never-churn/${"d".repeat(100)}`;
    mkdirSync(churnDir, { recursive: true });
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(
        ["-o", "json-min", "-m", "file", "-q", "--syslog", `tcp://127.0.0.1:${freeTcpPort()}`, "--syslog-spool", "1"],
        { stdout: "ignore" },
      );
      // ~1.3 KB per record: ~26 MB of records, 26 times the spool
      await churn(churnDir, 2000, "n".repeat(150));
      const warmed = agent.rssMiB();
      await churn(churnDir, 20_000, "n".repeat(150));
      await Bun.sleep(300);
      expect(agent.alive()).toBe(true);
      expect(agent.rssMiB() - warmed).toBeLessThan(30);
      expect(await agent.stop()).toBe(0);
      const { records, lost } = agent.summary();
      expect(records).toBeGreaterThan(22_000);
      expect(lost["syslog dropped"]).toBe(records);
      const said = agent.stderr.match(/^kflowd: syslog .*$/gm);
      expect(said).toEqual([
        expect.stringMatching(/: cannot connect \(ECONNREFUSED\); records are spooled \(up to 1 MiB\) and sent once it is back$/),
        expect.stringMatching(/: spool full \(1 MiB\); records are dropped until the relay takes them \(counted\)$/),
      ]);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
    }
  });
});
