/**
 * An off-the-shelf server, one connection per request: Debian's nginx (nginx-light,
 * installed on demand without starting its service) serving a 612-byte static file on
 * 127.0.0.1, driven by wrk -t1 -c32 with "Connection: close" (nginx and wrk on a core
 * each, the agent on either), requests/s without and
 * with the agent in alternating paired rounds, each sample after 3 s of the same load (the
 * agent's warm-up, reported as a row of its own). Then, in a phase of its own, the BPF CPU
 * per connection from bpf_stats (both ends: wrk's client socket and nginx's accepted
 * one). DESIGN §8: one connection per request ≤ 1.30× time; BPF ≤ 5 µs per connection.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type Scenario, WARM_SECONDS, wrkRun } from "./http.ts";
import { Agent } from "./lib/agent.ts";
import { agentUsPerRecord, type Bench, type Ctx, coldRounds, lossNote, pairedRounds, pairedRow } from "./lib/bench.ts";
import { costTable, type ProgCost, progCosts, progNames, progSnapshot, withBpfStats } from "./lib/bpf-stats.ts";
import { median, type Row } from "./lib/stats.ts";
import { cpuSeconds, debianTool, pinned, run, SERVER_CPU, sleep, WORK } from "./lib/sys.ts";

export const SECONDS = 2;
export const PROFILE_SECONDS = 3;
/** first port tried; the next ones when it is taken */
const PORT = 18090;
const PREFIX = join(WORK, "nginx");

/** nginx's default index.html (612 bytes), so the reply is what a stock install serves */
const INDEX = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`;

/**
 * The nginx binary, installing nginx-light if it is missing. Debian's postinst starts
 * the service on port 80 unless policy-rc.d forbids it: one is put in place for the
 * install (if there is none) and removed after, so nothing is left listening.
 */
async function nginxBinary(): Promise<string> {
  const have = Bun.which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : undefined);
  if (have) return have;
  const policy = "/usr/sbin/policy-rc.d";
  const ours = !existsSync(policy);
  if (ours) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    await debianTool("wrk", "wrk");
    console.error("bench: nginx is missing; installing the Debian package nginx-light (its service is not started)");
    await run(["apt-get", "install", "-y", "--no-install-recommends", "nginx-light"], { allowFail: true });
  } finally {
    if (ours) rmSync(policy, { force: true });
  }
  const path = Bun.which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : undefined);
  if (!path) throw new Error("nginx not found and 'apt-get install nginx-light' failed; install it by hand");
  return path;
}

/** Whether something answers HTTP on 127.0.0.1:port. */
async function answers(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
    await r.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts nginx (one worker, no access log, in the foreground) on the first free port
 * from PORT; returns the process, its worker's pid and the port.
 */
async function startNginx(bin: string): Promise<{ proc: Subprocess; port: number; workers: number[] }> {
  rmSync(PREFIX, { recursive: true, force: true });
  mkdirSync(join(PREFIX, "www"), { recursive: true });
  mkdirSync(join(PREFIX, "tmp"), { recursive: true });
  writeFileSync(join(PREFIX, "www/index.html"), INDEX);
  for (let port = PORT; port < PORT + 10; port++) {
    if (await answers(port)) continue;
    writeFileSync(
      join(PREFIX, "nginx.conf"),
      [
        "daemon off;",
        "master_process on;",
        "worker_processes 1;",
        "user root;",
        `pid ${PREFIX}/nginx.pid;`,
        `error_log ${PREFIX}/error.log warn;`,
        "events { worker_connections 4096; }",
        "http {",
        "  access_log off;",
        `  client_body_temp_path ${PREFIX}/tmp; proxy_temp_path ${PREFIX}/tmp; fastcgi_temp_path ${PREFIX}/tmp;`,
        `  uwsgi_temp_path ${PREFIX}/tmp; scgi_temp_path ${PREFIX}/tmp;`,
        `  server { listen 127.0.0.1:${port}; root ${PREFIX}/www; }`,
        "}",
        "",
      ].join("\n"),
    );
    const proc = Bun.spawn(pinned(SERVER_CPU, [bin, "-p", PREFIX, "-c", join(PREFIX, "nginx.conf"), "-e", join(PREFIX, "error.log")]), {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    for (let i = 0; i < 100 && proc.exitCode === null; i++) {
      if (await answers(port)) {
        const workers = (await run(["pgrep", "-P", String(proc.pid)], { allowFail: true })).stdout.split("\n").filter(Boolean).map(Number);
        return { proc, port, workers };
      }
      await sleep(50);
    }
    proc.kill("SIGKILL");
    await proc.exited;
  }
  throw new Error(
    `nginx could not listen on 127.0.0.1:${PORT}..${PORT + 9}: ${readFileSync(join(PREFIX, "error.log"), "utf8").slice(-300)}`,
  );
}

/** CPU seconds of nginx's master and workers together. */
function nginxCpu(pids: readonly number[]): number {
  return pids.reduce((s, p) => s + cpuSeconds(p), 0);
}

/**
 * bpf_stats of the programs of the process start() begins (the agent, or the floor's
 * do-nothing programs) per connection under PROFILE_SECONDS of wrk: a phase of its own
 * (the statistics cost time).
 */
export async function wrkProgCosts(
  start: () => Promise<{ readonly pid: number; stop(): Promise<unknown> }>,
  wrk: string,
  s: Scenario,
): Promise<ProgCost[]> {
  return withBpfStats(async () => {
    const holder = await start();
    try {
      await sleep(300);
      const names = await progNames();
      const before = progSnapshot(holder.pid);
      const w = await wrkRun(wrk, s, PROFILE_SECONDS);
      return progCosts(before, progSnapshot(holder.pid), names, w.requests);
    } finally {
      await holder.stop();
    }
  });
}

/** BPF CPU per connection from bpf_stats under one fresh agent. */
async function bpfPerConnection(ctx: Ctx, wrk: string, s: Scenario): Promise<Row> {
  const costs = await wrkProgCosts(() => Agent.start(), wrk, s);
  const total = costs.reduce((t, x) => t + x.nsPerOp, 0);
  ctx.log(`  nginx: ${total.toFixed(0)} ns of BPF per connection`);
  ctx.details.push(
    `### BPF per connection, nginx with Connection: close (bpf_stats on, ${PROFILE_SECONDS} s of wrk)\n\n${costTable(costs, "connection")}`,
  );
  return {
    bench: "nginx",
    metric: "close: BPF ns per connection (both ends)",
    agent: total,
    target: "≤ 5,000 ns",
    met: total <= 5000,
    note: costs
      .slice(0, 4)
      .map((x) => `${x.name} ${x.nsPerOp.toFixed(0)}`)
      .join(", "),
  };
}

/** Runs f with nginx serving; stops it after. */
export async function withNginx<T>(f: (wrk: string, s: Scenario, pids: number[]) => Promise<T>): Promise<T> {
  const wrk = await debianTool("wrk", "wrk");
  const bin = await nginxBinary();
  const { proc, port, workers } = await startNginx(bin);
  const s: Scenario = { name: "nginx close", port, headers: ["Connection: close"] };
  try {
    await wrkRun(wrk, s, 1); // warm-up
    return await f(wrk, s, [proc.pid, ...workers]);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(PREFIX, { recursive: true, force: true });
  }
}

export const nginx: Bench = {
  name: "nginx",
  title: `Debian's nginx, a connection per request (wrk -t1 -c32 -H 'Connection: close' -d${SECONDS}s after ${WARM_SECONDS} s of the same load), requests/s`,
  async run(ctx: Ctx): Promise<Row[]> {
    return withNginx(async (wrk, s, pids) => {
      const once = async (seconds: number): Promise<[number, number]> => {
        const cpu0 = nginxCpu(pids);
        const w = await wrkRun(wrk, s, seconds);
        return [w.rps, ((w.cpuMs + (nginxCpu(pids) - cpu0) * 1000) * 1000) / w.requests];
      };
      const r = await pairedRounds(
        ctx,
        "nginx close",
        () => once(SECONDS),
        { needles: ['"Proc": "nginx"'] },
        () => once(WARM_SECONDS),
      );
      const recs = median(r.samples.map((x) => x.result.matched / (x.wallSec + x.warmSec)));
      const cpu = median(r.samples.map((x) => x.cpuSec / x.wallSec));
      const row = pairedRow(
        r,
        (x) => x[0],
        {
          bench: "nginx",
          metric: "close: requests/s",
          target: "≥ 0.769× (time ≤ 1.30×)",
          note: `nginx records ${recs.toFixed(0)}/s, agent ${(cpu * 100).toFixed(0)}% of a core, ${agentUsPerRecord(r.samples).toFixed(1)} µs per record; ${lossNote(r.samples)}`,
        },
        (x) => x[1],
      );
      const cold = pairedRow(coldRounds(r), (x) => x[0], {
        bench: "nginx",
        metric: `close, the first ${WARM_SECONDS} s of a fresh agent: requests/s`,
        target: "–",
        note: "the agent's JIT compiling (once per start)",
      });
      return [
        { ...row, met: row.ratio >= 1 / 1.3, note: `time ${(1 / row.ratio).toFixed(3)}×; ${row.note}` },
        { ...cold, note: `time ${(1 / cold.ratio).toFixed(3)}×; ${cold.note}` },
        await bpfPerConnection(ctx, wrk, s),
      ];
    });
  },
};

/** Only the BPF-per-connection phase of nginx (quick, for kernel-side work). */
export const nginxBpf: Bench = {
  name: "nginx-bpf",
  title: `BPF per connection under Debian's nginx (bpf_stats, wrk -H 'Connection: close' -d${PROFILE_SECONDS}s)`,
  run: async (ctx: Ctx): Promise<Row[]> => [await withNginx((wrk, s) => bpfPerConnection(ctx, wrk, s))],
};
