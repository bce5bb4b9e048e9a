/**
 * Loopback HTTP: wrk (Debian package, installed on demand) against a small C epoll
 * server on 127.0.0.1, requests/s without and with the agent. Scenarios:
 *   keep-alive   32 persistent connections (the per-read/write cost of the hooks)
 *   close        a new TCP connection per request (socket records: 2 per request)
 *   capture:80   keep-alive on port 80, where the agent captures and decodes HTTP
 *                messages by default (-p http=tcp/80); skipped when port 80 is taken
 * wrk and the server run on a core each (pinned), the agent on either.
 * Each sample runs after 3 s of the same load (a fresh agent's warm-up, reported apart).
 * DESIGN §8, time: keep-alive ≤ 1.10×, a connection per request ≤ 1.30×, capture ≤ 1.50×.
 */
import type { Subprocess } from "bun";
import { agentUsPerRecord, type Bench, type Ctx, coldRounds, lossNote, pairedRounds, pairedRow } from "./lib/bench.ts";
import { median, type Row } from "./lib/stats.ts";
import { CLIENT_CPU, cProgram, cpuSeconds, debianTool, pinned, run, SERVER_CPU } from "./lib/sys.ts";

const SECONDS = 2;
/** load before each sample: a fresh agent's JIT compiles for its first ~3 s (measured apart) */
export const WARM_SECONDS = 3;
const CONNECTIONS = 32;

export interface Scenario {
  readonly name: string;
  readonly port: number;
  readonly headers: readonly string[];
  /** pid of the server process (for its CPU time) */
  readonly server?: number;
  /** the target: time with the agent at most this many times the time without */
  readonly limit?: number;
}

/** Starts the C server on 127.0.0.1:port; undefined when it cannot listen. */
export async function startServer(bin: string, port: number): Promise<Subprocess<"ignore", "pipe", "pipe"> | undefined> {
  const p = Bun.spawn(pinned(SERVER_CPU, [bin, String(port)]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  const first = await Promise.race([reader.read(), p.exited.then(() => undefined)]);
  reader.releaseLock();
  if (!first || first.done || !new TextDecoder().decode(first.value).includes("ready")) {
    p.kill();
    return undefined;
  }
  return p;
}

/** Runs wrk once; returns requests/s, the number of requests and wrk's CPU ms. */
export async function wrkRun(tool: string, s: Scenario, seconds: number): Promise<{ rps: number; requests: number; cpuMs: number }> {
  const args = [tool, "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, ...s.headers.flatMap((h) => ["-H", h]), `http://127.0.0.1:${s.port}/`];
  const done = await run(pinned(CLIENT_CPU, args));
  const out = done.stdout;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const requests = /(\d+) requests in/.exec(out);
  if (!rps || !requests) throw new Error(`wrk printed no Requests/sec:\n${out}`);
  return { rps: Number(rps[1]), requests: Number(requests[1]), cpuMs: done.cpuMs };
}

/** One measurement: requests/s, and CPU µs per request of wrk and the server together. */
async function wrk(tool: string, s: Scenario, seconds: number, serverPid: number): Promise<[number, number]> {
  const cpu0 = cpuSeconds(serverPid);
  const w = await wrkRun(tool, s, seconds);
  const serverMs = (cpuSeconds(serverPid) - cpu0) * 1000;
  return [w.rps, ((w.cpuMs + serverMs) * 1000) / w.requests];
}

export const http: Bench = {
  name: "http",
  title: `Loopback HTTP (wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, C epoll server), requests/s`,
  async run(ctx: Ctx): Promise<Row[]> {
    const tool = await debianTool("wrk", "wrk");
    const bin = await cProgram("httpd");
    const servers: Subprocess[] = [];
    try {
      const scenarios: Scenario[] = [];
      const main = await startServer(bin, 18080);
      if (!main) throw new Error("the HTTP server could not listen on 127.0.0.1:18080");
      servers.push(main);
      scenarios.push({ name: "keep-alive", port: 18080, headers: [], server: main.pid, limit: 1.1 });
      scenarios.push({ name: "close", port: 18080, headers: ["Connection: close"], server: main.pid, limit: 1.3 });
      const port80 = await startServer(bin, 80);
      if (port80) {
        servers.push(port80);
        scenarios.push({ name: "capture:80", port: 80, headers: [], server: port80.pid, limit: 1.5 });
      } else {
        ctx.notes.push("http: port 80 is taken, the HTTP-capture scenario was skipped");
      }
      for (const s of scenarios) await wrkRun(tool, s, 1); // warm-up
      const rows: Row[] = [];
      for (const s of scenarios) {
        const limit = s.limit ?? 1.1;
        const r = await pairedRounds(
          ctx,
          `http ${s.name}`,
          () => wrk(tool, s, SECONDS, s.server!),
          { needles: ['"Proc": "httpd"'] },
          () => wrk(tool, s, WARM_SECONDS, s.server!),
        );
        const recs = median(r.samples.map((x) => x.result.matched / (x.wallSec + x.warmSec)));
        const cold = pairedRow(coldRounds(r), (x) => x[0], {
          bench: "http",
          metric: `${s.name}, the first ${WARM_SECONDS} s: requests/s`,
          target: "–",
        });
        const cpu = median(r.samples.map((x) => x.cpuSec / x.wallSec));
        const row = pairedRow(
          r,
          (x) => x[0],
          {
            bench: "http",
            metric: `${s.name}: requests/s`,
            target: `≥ ${(1 / limit).toFixed(3)}× (time ≤ ${limit.toFixed(2)}×)`,
            note: `server records ${recs.toFixed(0)}/s, agent ${(cpu * 100).toFixed(0)}% of a core, ${agentUsPerRecord(r.samples).toFixed(1)} µs per record; ${lossNote(r.samples)}`,
          },
          (x) => x[1],
        );
        rows.push({ ...row, met: row.ratio >= 1 / limit, note: `time ${(1 / row.ratio).toFixed(3)}×; ${row.note}` });
        rows.push({ ...cold, note: `time ${(1 / cold.ratio).toFixed(3)}×; a fresh agent's JIT compiling` });
      }
      return rows;
    } finally {
      for (const p of servers) p.kill("SIGTERM");
    }
  },
};
