// --metrics on the compiled agent with every output on (stdout, a real rsyslog relay, the
// NDJSON file): the page passes promtool check metrics, and what it counts is what arrived
// at each output; the relay's state follows the relay; the agent's own metrics connection
// is never reported. Each test stops what it started.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { Rsyslog } from "../helpers/rsyslog.ts";
import { AgentProcess, type Json } from "./agent-process.ts";

setDefaultTimeout(120_000);
const skip = skipWithoutKernel("end-to-end metrics tests");
const dir = skip ? "" : mkdtempSync(`${tmpdir()}/kflowd-metrics-`);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function freeTcpPort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

async function churn(churnDir: string, count: number, name: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    closeSync(openSync(`${churnDir}/${name}${i % 64}`, "w"));
    if (i % 200 === 199) await Bun.sleep(1);
  }
  await Bun.sleep(1);
}

/** A scraped page: its text and the value of a series by exact name and labels. */
async function scrape(url: string): Promise<{ text: string; value(series: string): number }> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  const text = await r.text();
  return {
    text,
    value(series: string): number {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      if (line === undefined) throw new Error(`no series ${series} in:\n${text}`);
      return Number(line.slice(series.length + 1));
    },
  };
}

function promtool(text: string): { code: number; out: string } {
  const r = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

describe.skipIf(skip)("metrics", () => {
  test("promtool accepts the page; its counts are what reached stdout, the relay and the file", async () => {
    const relay = new Rsyslog(`${dir}/relay`, freeTcpPort());
    const churnDir = `${dir}/churn`;
    mkdirSync(churnDir, { recursive: true });
    const file = `${dir}/records.json`;
    const port = freeTcpPort();
    const url = `http://127.0.0.1:${port}/metrics`;
    const syslog = `output="syslog",target="tcp://127.0.0.1:${relay.port}"`;
    const stdout = 'output="stdout",target="-"';
    const out = `output="file",target="${file}"`;
    let agent: AgentProcess | undefined;
    try {
      await relay.start();
      agent = await AgentProcess.start([
        "-o",
        "json-min",
        "-m",
        "file,socket",
        "--syslog",
        `tcp://127.0.0.1:${relay.port}`,
        "--output-file",
        file,
        "--metrics",
        `127.0.0.1:${port}`,
      ]);
      expect(agent.stderr).toContain(`; metrics at ${url}\n`);
      await churn(churnDir, 3000, "m");
      await agent.waitFor(() => agent!.records.length >= 3000, "3000 records on stdout", 30_000);
      const page = await scrape(url);
      expect(promtool(page.text)).toEqual({ code: 0, out: "" });

      // records printed = the last sequence number; stdout and the relay took each of them
      const printed = page.value('kflowd_records_total{type="file"}') + page.value('kflowd_records_total{type="socket"}');
      expect(printed).toBeGreaterThanOrEqual(3000);
      expect(page.value(`kflowd_output_records_total{${stdout}}`)).toBe(printed);
      expect(page.value(`kflowd_output_records_total{${syslog}}`)).toBe(printed);
      // the file's count is of records written, at most a batch behind
      const written = page.value(`kflowd_output_records_total{${out}}`);
      expect(written).toBeLessThanOrEqual(printed);
      for (const o of [stdout, syslog, out]) {
        expect(page.value(`kflowd_output_up{${o}}`)).toBe(1);
        expect(page.value(`kflowd_output_dropped_total{${o}}`)).toBe(0);
      }
      expect(page.value(`kflowd_output_connections_total{${syslog}}`)).toBe(1);
      expect(page.value("kflowd_ring_buffer_size_bytes")).toBe(4 << 20);
      expect(page.value("kflowd_drain_duration_seconds_count")).toBeGreaterThan(0);
      expect(page.value('kflowd_drain_duration_seconds_bucket{le="+Inf"}')).toBe(page.value("kflowd_drain_duration_seconds_count"));
      expect(page.text).toMatch(/^kflowd_feature_degraded\{feature="file",tier="[\w-]+"\} [01]$/m);

      // what the page counted arrived: on stdout, at the relay, in the file
      const upTo = Array.from({ length: printed }, (_, i) => i + 1);
      await agent.waitFor(() => agent!.records.some((r) => r.InfoSequenceNumber === printed), `record ${printed} on stdout`);
      const seqs = (texts: string[]) => new Set(texts.map((t) => (JSON.parse(t) as Json).InfoSequenceNumber as number));
      await agent.waitFor(
        () => {
          const atRelay = seqs(relay.messages().map((m) => m.msg));
          return upTo.every((s) => atRelay.has(s));
        },
        `records 1..${printed} at the relay`,
        30_000,
      );
      const inFile = seqs(readFileSync(file, "utf8").split("\n").slice(0, -1));
      expect(upTo.slice(0, written).every((s) => inFile.has(s))).toBe(true);

      // the relay goes away: its output is down, and said so on the page
      await relay.stop();
      // records to send make the agent see it
      for (const deadline = Date.now() + 30_000; !agent.stderr.includes("connection lost"); ) {
        if (Date.now() > deadline) throw new Error(`the agent did not see the relay go:\n${agent.stderr}`);
        await churn(churnDir, 100, "down");
      }
      const later = await scrape(url);
      expect(later.value(`kflowd_output_up{${syslog}}`)).toBe(0);
      expect(later.value(`kflowd_output_up{${stdout}}`)).toBe(1);
      expect(later.value(`kflowd_output_queued_bytes{${syslog}}`)).toBeGreaterThan(0);

      expect(await agent.stop()).toBe(0);
      // losses on the page never exceed the summary's, which came later
      const { lost } = agent.summary();
      expect(later.value('kflowd_losses_total{reason="syslog_dropped"}')).toBe(0);
      expect(later.value('kflowd_losses_total{reason="stdout_dropped"}')).toBeLessThanOrEqual(lost["stdout dropped"]!);
      expect(later.value('kflowd_losses_total{reason="ring_full"}')).toBeLessThanOrEqual(lost["ring full"]!);
      // the agent's side of the scrapes is never a record; the test's side is
      expect(agent.records.filter((r) => r.SockLocalPort === port)).toEqual([]);
      expect(agent.records.filter((r) => r.SockRemotePort === port && r.ProcPID === process.pid).length).toBeGreaterThan(0);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      if (agent?.alive()) process.kill(agent.pid, "SIGKILL");
      await relay.stop();
    }
  });
});
