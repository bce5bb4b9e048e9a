/**
 * The floor under the agent's cost per connection: a program that does nothing on each
 * hook the agent attaches for files and sockets (bench/c/hooks.bpf.c: the same 14 attach
 * points and program types — sys_enter/sys_exit, the cgroup-v2 root's packet, socket
 * and address hooks, the state and exec/exit tracepoints), held by a small libbpf loader
 * (bench/c/hooks.c). Debian's nginx with a connection per request, as in `nginx`, and
 * the file churn of `churn`, each in alternating paired rounds without and with only
 * these programs; then bpf_stats of the do-nothing programs per connection. What the agent costs above this floor is the work
 * its programs and its user space do; the floor itself is the price of the hooks on this
 * machine (an indirect call per program run, under retpolines here, and the kernel's
 * slow syscall path while sys_enter/sys_exit are attached).
 */
import { join } from "node:path";
import { readFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { clang } from "../bpf/build.ts";
import { cgroup2MountInfo } from "../src/kernel.ts";
import { wrkRun } from "./http.ts";
import type { Bench, Ctx } from "./lib/bench.ts";
import { costTable } from "./lib/bpf-stats.ts";
import { median, type Row } from "./lib/stats.ts";
import { cProgram, run, sleep, WORK } from "./lib/sys.ts";
import { churnOnce, FILE_SYSTEMS, withChurn } from "./churn.ts";
import { PROFILE_SECONDS, SECONDS, withNginx, wrkProgCosts } from "./nginx.ts";

const SOURCE = join(import.meta.dir, "c/hooks.bpf.c");

/** The do-nothing programs attached; stop() detaches them. */
class Hooks {
  private constructor(private readonly proc: Subprocess<"pipe", "pipe", "pipe">) {}

  get pid(): number {
    return this.proc.pid;
  }

  static async start(loader: string, object: string, cgroup: string): Promise<Hooks> {
    const proc = Bun.spawn([loader, object, cgroup], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const reader = proc.stdout.getReader();
    const first = await reader.read();
    reader.releaseLock();
    const line = first.done ? "" : new TextDecoder().decode(first.value);
    if (!line.startsWith("attached ")) {
      proc.kill();
      throw new Error(`the do-nothing programs did not attach: ${(await new Response(proc.stderr).text()).trim()}`);
    }
    return new Hooks(proc);
  }

  async stop(): Promise<void> {
    this.proc.stdin.end();
    await this.proc.exited;
  }
}

async function buildHooks(): Promise<{ loader: string; object: string; cgroup: string }> {
  const cg = cgroup2MountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
  if (!cg) throw new Error("floor: no cgroup v2 hierarchy is mounted");
  const object = join(WORK, "hooks.bpf.o");
  const arch = (await run(["gcc", "-dumpmachine"])).stdout.trim();
  await run([clang(), "-O2", "-g", "-target", "bpf", `-I/usr/include/${arch}`, "-c", SOURCE, "-o", object]);
  return { loader: await cProgram("hooks", ["-lbpf"]), object, cgroup: cg.mount };
}

type Built = Awaited<ReturnType<typeof buildHooks>>;

/** work without and with the do-nothing programs, rounds × 2 times alternating: [without, with] per round. */
async function pairedHooks<T>(ctx: Ctx, label: string, hooks: Built, work: () => Promise<T>): Promise<[T, T][]> {
  const out: [T, T][] = [];
  for (let r = 0; r < ctx.rounds; r++) {
    const pair: (T | undefined)[] = [undefined, undefined];
    for (const withHooks of r % 2 === 0 ? [false, true] : [true, false]) {
      const h = withHooks ? await Hooks.start(hooks.loader, hooks.object, hooks.cgroup) : undefined;
      await sleep(300);
      try {
        pair[withHooks ? 1 : 0] = await work();
      } finally {
        await h?.stop();
      }
    }
    out.push(pair as [T, T]);
    ctx.log(`  floor ${label}: round ${r + 1}/${ctx.rounds} done`);
  }
  return out;
}

/** A row from [without, with] pairs of a value where more is slower (time): medians, ratio, spread. */
function floorRow(metric: string, pairs: readonly [number, number][]): Row {
  const ratios = pairs.map(([b, h]) => h / b);
  const ratio = median(ratios);
  return {
    bench: "floor",
    metric,
    baseline: median(pairs.map((p) => p[0])),
    agent: median(pairs.map((p) => p[1])),
    ratio,
    spread: [Math.min(...ratios), Math.max(...ratios)],
    target: "–",
    note: "the hooks alone, no work in them",
  };
}

export const floor: Bench = {
  name: "floor",
  title: "Do-nothing programs on the agent's 14 hooks: nginx with a connection per request, file churn",
  async run(ctx: Ctx): Promise<Row[]> {
    const built = await buildHooks();
    const churnRows = await withChurn(async (bin) => {
      const pairs = await pairedHooks(ctx, "churn", built, () => churnOnce(bin));
      return FILE_SYSTEMS.map((fs) =>
        floorRow(
          `churn ${fs} with do-nothing programs: µs per loop`,
          pairs.map(([b, h]) => [b[fs][0], h[fs][0]]),
        ),
      );
    });
    const { loader, object, cgroup } = built;
    const nginxRows = await withNginx(async (wrk, s) => {
      // requests/s: the time per request is its inverse
      const pairs = await pairedHooks(ctx, "nginx", built, async () => 1e6 / (await wrkRun(wrk, s, SECONDS)).rps);
      const row = floorRow("nginx close with do-nothing programs: µs per request", pairs);
      const costs = await wrkProgCosts(() => Hooks.start(loader, object, cgroup), wrk, s);
      const total = costs.reduce((t, x) => t + x.nsPerOp, 0);
      ctx.details.push(
        `### The floor: do-nothing programs per connection, nginx (bpf_stats on, ${PROFILE_SECONDS} s of wrk)\n\n${costTable(costs, "connection")}`,
      );
      return [
        row,
        {
          bench: "floor",
          metric: "do-nothing programs: BPF ns per connection",
          agent: total,
          target: "–",
          note: costs
            .slice(0, 4)
            .map((x) => `${x.name} ${x.nsPerOp.toFixed(0)}`)
            .join(", "),
        },
      ];
    });
    return [...nginxRows, ...churnRows];
  },
};
