/**
 * Prometheus metrics (--metrics IP:PORT): a text page (exposition format 0.0.4) at
 * /metrics, made from a snapshot of the agent's counters when it is asked for, so that
 * nothing is counted twice and the record path pays nothing. The losses are the stop
 * summary's (LOSSES in report.ts), one series per reason.
 */
import type { Server } from "bun";
import { SetupError } from "../ffi/errors.ts";
import { LOSSES, type Losses, type StopNotes } from "./report.ts";
import type { OutputStatus } from "./sink/line-output.ts";

/** Counts of observations per bucket: observe() is a few comparisons, no allocation. */
export class Histogram {
  /** per bucket, not cumulative; the last one is +Inf */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** How long one drain takes (ring buffer to the outputs' writers), in seconds. */
export const DRAIN_SECONDS_BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** How full the ring buffer was when a drain began, as a fraction of its size. */
export const RING_FILL_BOUNDS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1];

/** Everything the page shows, read when it is asked for. */
export interface MetricsSnapshot {
  readonly version: string;
  readonly startTimeSec: number;
  readonly records: { readonly file: number; readonly socket: number };
  readonly losses: Losses;
  readonly notes: StopNotes;
  readonly ringSizeBytes: number;
  readonly ringFillBytes: number;
  /** the ring's fill (a fraction of its size) when each drain began */
  readonly ringFillAtDrain: Histogram;
  readonly drainSeconds: Histogram;
  /** every feature with the hooks chosen for it */
  readonly features: readonly { readonly feature: string; readonly tier: string }[];
  /** the features reported degraded (by the kernel probe or the self-test) */
  readonly degraded: readonly string[];
  readonly outputs: readonly OutputStatus[];
}

/** "ringFull" -> "ring_full" */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A label value with \, " and newlines escaped. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Numbers as Prometheus writes them. */
function num(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

class Page {
  private readonly lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Record<string, string>, value: number): this {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${label(v)}"`)
      .join(",");
    this.lines.push(`${name}${l ? `{${l}}` : ""} ${num(value)}`);
    return this;
  }

  histogram(name: string, h: Histogram): this {
    let cumulative = 0;
    for (let i = 0; i < h.counts.length; i++) {
      cumulative += h.counts[i]!;
      this.sample(`${name}_bucket`, { le: i < h.bounds.length ? num(h.bounds[i]!) : "+Inf" }, cumulative);
    }
    return this.sample(`${name}_sum`, {}, h.sum).sample(`${name}_count`, {}, h.count);
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

/** The page for one snapshot. */
export function metricsText(s: MetricsSnapshot): string {
  const p = new Page();
  p.family("kflowd_build_info", "gauge", "The agent's version (always 1).").sample("kflowd_build_info", { version: s.version }, 1);
  p.family("kflowd_start_time_seconds", "gauge", "When the agent started, in seconds since the epoch.");
  p.sample("kflowd_start_time_seconds", {}, s.startTimeSec);

  p.family("kflowd_records_total", "counter", "Records printed, by type (file or socket).");
  p.sample("kflowd_records_total", { type: "file" }, s.records.file);
  p.sample("kflowd_records_total", { type: "socket" }, s.records.socket);

  p.family("kflowd_losses_total", "counter", "What the agent lost, by reason: the counters of the stop summary.");
  for (const [key] of LOSSES) p.sample("kflowd_losses_total", { reason: snake(key) }, s.losses[key]);
  p.family("kflowd_deferred_records_total", "counter", "Records the kernel kept in its map while the ring buffer was full (not lost).");
  p.sample("kflowd_deferred_records_total", {}, s.notes.deferred);
  p.family("kflowd_paths_cut_total", "counter", "Paths cut at the top (longer or deeper than the kernel walk allows).");
  p.sample("kflowd_paths_cut_total", {}, s.notes.pathsCut);

  p.family("kflowd_ring_buffer_size_bytes", "gauge", "Size of the kernel ring buffer.");
  p.sample("kflowd_ring_buffer_size_bytes", {}, s.ringSizeBytes);
  p.family("kflowd_ring_buffer_fill_bytes", "gauge", "Bytes in the ring buffer not drained yet, now.");
  p.sample("kflowd_ring_buffer_fill_bytes", {}, s.ringFillBytes);
  p.family("kflowd_ring_buffer_fill_ratio", "histogram", "How full the ring buffer was when each drain began.");
  p.histogram("kflowd_ring_buffer_fill_ratio", s.ringFillAtDrain);
  p.family("kflowd_drain_duration_seconds", "histogram", "How long each drain took, from the ring buffer to the outputs.");
  p.histogram("kflowd_drain_duration_seconds", s.drainSeconds);

  p.family("kflowd_feature_degraded", "gauge", "1 if the feature is degraded (see the start-up banner), else 0, with the hooks chosen.");
  const known = new Set<string>();
  for (const f of s.features) {
    if (known.has(f.feature)) continue;
    known.add(f.feature);
    p.sample("kflowd_feature_degraded", { feature: f.feature, tier: f.tier }, s.degraded.includes(f.feature) ? 1 : 0);
  }
  for (const d of s.degraded) if (!known.has(d)) p.sample("kflowd_feature_degraded", { feature: d, tier: "" }, 1);

  p.family("kflowd_output_up", "gauge", "1 if the output takes records now (reader there, relay connected, file writable).");
  for (const o of s.outputs) p.sample("kflowd_output_up", { output: o.output, target: o.target }, o.up ? 1 : 0);
  p.family("kflowd_output_records_total", "counter", "Records the output took (written, sent, or spooled for the relay).");
  for (const o of s.outputs) p.sample("kflowd_output_records_total", { output: o.output, target: o.target }, o.records);
  p.family("kflowd_output_dropped_total", "counter", "Records the output lost (also among kflowd_losses_total).");
  for (const o of s.outputs) p.sample("kflowd_output_dropped_total", { output: o.output, target: o.target }, o.dropped);
  p.family("kflowd_output_queued_bytes", "gauge", "Bytes waiting in the agent's memory for the output.");
  for (const o of s.outputs) p.sample("kflowd_output_queued_bytes", { output: o.output, target: o.target }, o.queuedBytes);
  const streams = s.outputs.filter((o) => o.connections !== undefined);
  if (streams.length > 0) {
    p.family("kflowd_output_connections_total", "counter", "Connections made to the relay.");
    for (const o of streams) p.sample("kflowd_output_connections_total", { output: o.output, target: o.target }, o.connections!);
    p.family(
      "kflowd_output_resent_records_total",
      "counter",
      "Records sent again after a lost connection (the relay may hold them twice).",
    );
    for (const o of streams) p.sample("kflowd_output_resent_records_total", { output: o.output, target: o.target }, o.resent ?? 0);
  }
  return p.text();
}

/** The page served; stop() closes the listener. */
export interface MetricsServer {
  readonly url: string;
  stop(): void;
}

/** Serves the page at http://host:port/metrics; a port that cannot be had names the option. */
export function serveMetrics(
  endpoint: { readonly host: string; readonly port: number; readonly family: 4 | 6 },
  snapshot: () => MetricsSnapshot,
): MetricsServer {
  const where = endpoint.family === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
  let server: Server<undefined>;
  try {
    server = Bun.serve({
      hostname: endpoint.host,
      port: endpoint.port,
      development: false,
      fetch(req: Request): Response {
        const path = new URL(req.url).pathname;
        if (path !== "/metrics") return new Response("kflowd: metrics are at /metrics\n", { status: 404 });
        if (req.method !== "GET" && req.method !== "HEAD") return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
        return new Response(metricsText(snapshot()), {
          headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      },
      error(): Response {
        return new Response("kflowd: the metrics could not be made\n", { status: 500 });
      },
    });
  } catch (e) {
    throw new SetupError(`option --metrics ${where}: cannot listen: ${(e as { code?: string }).code ?? String(e)}`);
  }
  // the agent's timers keep it running; at a failed start the listener should not
  server.unref();
  const host = endpoint.family === 6 ? `[${endpoint.host}]` : endpoint.host;
  return {
    url: `http://${host}:${server.port}/metrics`,
    stop: () => void server.stop(true),
  };
}
