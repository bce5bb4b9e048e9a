// The metrics page: every loss of the stop summary, histograms, features and outputs, in
// a form Prometheus' own promtool accepts; served at /metrics only.
import { describe, expect, test } from "bun:test";
import { DRAIN_SECONDS_BOUNDS, Histogram, type MetricsSnapshot, metricsText, RING_FILL_BOUNDS, serveMetrics } from "../../src/metrics.ts";
import { LOSSES, type Losses } from "../../src/report.ts";
import { SetupError } from "../../ffi/errors.ts";

function snapshot(): MetricsSnapshot {
  const losses = Object.fromEntries(LOSSES.map(([k], i) => [k, i])) as unknown as Losses;
  const drain = new Histogram(DRAIN_SECONDS_BOUNDS);
  for (const v of [0.00005, 0.0003, 0.0003, 0.002, 3]) drain.observe(v);
  const fill = new Histogram(RING_FILL_BOUNDS);
  fill.observe(0);
  fill.observe(0.6);
  return {
    version: "v0.1.0",
    startTimeSec: 1764172800.5,
    records: { file: 10, socket: 3 },
    losses,
    notes: { pathsCut: 2, deferred: 5 },
    ringSizeBytes: 4 << 20,
    ringFillBytes: 1024,
    ringFillAtDrain: fill,
    drainSeconds: drain,
    features: [
      { feature: "file", tier: "syscall-tracepoints" },
      { feature: "file-inode", tier: "kprobes" },
      { feature: "socket", tier: "cgroup" },
    ],
    degraded: ["file-inode", "self-test-only"],
    outputs: [
      { output: "stdout", target: "-", up: false, records: 7, dropped: 6, queuedBytes: 0 },
      { output: "syslog", target: 'tls://relay"x:6514', up: true, records: 13, dropped: 0, queuedBytes: 512, connections: 2, resent: 4 },
      { output: "file", target: "/var/log/kflowd/records.json", up: true, records: 13, dropped: 0, queuedBytes: 0 },
    ],
  };
}

/** The value of one sample line, by its exact name and labels. */
function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("metrics page", () => {
  const text = metricsText(snapshot());

  test("promtool check metrics accepts it", () => {
    const r = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString() + r.stdout.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("each loss of the stop summary is one series, by the same counter", () => {
    LOSSES.forEach(([key], i) => {
      const reason = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      expect(value(text, `kflowd_losses_total{reason="${reason}"}`)).toBe(i);
    });
    expect(value(text, 'kflowd_losses_total{reason="syslog_dropped"}')).toBeDefined();
  });

  test("records, ring, histograms (cumulative buckets), features, outputs", () => {
    expect(value(text, 'kflowd_records_total{type="file"}')).toBe(10);
    expect(value(text, 'kflowd_records_total{type="socket"}')).toBe(3);
    expect(value(text, "kflowd_ring_buffer_fill_bytes")).toBe(1024);
    expect(value(text, 'kflowd_drain_duration_seconds_bucket{le="0.0001"}')).toBe(1);
    expect(value(text, 'kflowd_drain_duration_seconds_bucket{le="0.0005"}')).toBe(3);
    expect(value(text, 'kflowd_drain_duration_seconds_bucket{le="1"}')).toBe(4);
    expect(value(text, 'kflowd_drain_duration_seconds_bucket{le="+Inf"}')).toBe(5);
    expect(value(text, "kflowd_drain_duration_seconds_count")).toBe(5);
    expect(value(text, 'kflowd_ring_buffer_fill_ratio_bucket{le="0.5"}')).toBe(1);
    expect(value(text, 'kflowd_feature_degraded{feature="file",tier="syscall-tracepoints"}')).toBe(0);
    expect(value(text, 'kflowd_feature_degraded{feature="file-inode",tier="kprobes"}')).toBe(1);
    expect(value(text, 'kflowd_feature_degraded{feature="self-test-only",tier=""}')).toBe(1);
    expect(value(text, 'kflowd_output_up{output="stdout",target="-"}')).toBe(0);
    expect(value(text, 'kflowd_output_dropped_total{output="stdout",target="-"}')).toBe(6);
    expect(value(text, 'kflowd_output_up{output="syslog",target="tls://relay\\"x:6514"}')).toBe(1);
    expect(value(text, 'kflowd_output_resent_records_total{output="syslog",target="tls://relay\\"x:6514"}')).toBe(4);
    expect(value(text, 'kflowd_output_records_total{output="file",target="/var/log/kflowd/records.json"}')).toBe(13);
  });

  test("served at /metrics with the exposition format's content type; a taken port names the option", async () => {
    const server = serveMetrics({ host: "127.0.0.1", port: 0, family: 4 }, snapshot);
    try {
      const port = Number(/:(\d+)\/metrics$/.exec(server.url)?.[1]);
      expect(port).toBeGreaterThan(0);
      const r = await fetch(server.url);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(await r.text()).toBe(text);
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    } finally {
      server.stop();
    }
    // a port another listener holds (Bun.serve shares a port with its own servers in one process)
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expect(() => serveMetrics({ host: "127.0.0.1", port: taken.port, family: 4 }, snapshot)).toThrow(
        new SetupError(`option --metrics 127.0.0.1:${taken.port}: cannot listen: EADDRINUSE`),
      );
    } finally {
      taken.stop(true);
    }
  });
});
