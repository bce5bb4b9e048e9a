/**
 * Where the kernel-side time goes: with kernel.bpf_stats_enabled=1 (restored after),
 * runs each workload once under one agent and reads run_time_ns / run_cnt of the
 * agent's programs from /proc/<pid>/fdinfo before and after. Gives per program the runs
 * per operation, ns per run and ns per operation. Separate from the overhead benchmarks
 * because the statistics themselves cost time (two clock reads per program run).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startServer, wrkRun } from "./http.ts";
import { Agent } from "./lib/agent.ts";
import { type ProgSnapshot, progCosts, progSnapshot } from "./lib/bpf-stats.ts";
import type { Bench, Ctx } from "./lib/bench.ts";
import { fmt, type Row } from "./lib/stats.ts";
import { bpftoolProgs, cProgram, debianTool, heldObjects, run, WORK } from "./lib/sys.ts";

const STATS = "/proc/sys/kernel/bpf_stats_enabled";

interface Workload {
  readonly name: string;
  /** runs it; returns the number of operations done */
  readonly go: () => Promise<number>;
  readonly unit: string;
}

type Snapshot = ProgSnapshot;

/** run_time_ns and run_cnt of every BPF program on the machine not in `own` (bpftool). */
async function otherPrograms(own: ReadonlySet<number>): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const p of await bpftoolProgs()) {
    if (!own.has(p.id)) out.set(p.id, { runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 });
  }
  return out;
}

function otherCost(before: Snapshot, after: Snapshot, ops: number): { nsPerOp: number; programs: number } {
  let ns = 0;
  let programs = 0;
  for (const [id, a] of after) {
    const b = before.get(id);
    if (!b || a.runCnt <= b.runCnt) continue;
    ns += a.runTimeNs - b.runTimeNs;
    programs++;
  }
  return { nsPerOp: ns / ops, programs };
}

interface JsProfile {
  samples: number;
  intervalMs: number;
  self: [string, number][];
  total: [string, number][];
}

/**
 * The agent's JavaScript under load: JSC's sampling profiler (lib/jsc-profile.ts, loaded
 * into the compiled agent with BUN_OPTIONS=--preload) while kfgen makes file and then
 * connection records. Samples are taken only while JavaScript runs (FFI calls and
 * native helpers it calls included); the agent's total CPU is measured beside it.
 */
async function jsProfile(ctx: Ctx, kfgen: string): Promise<Row[]> {
  const out = join(WORK, "agent-profile.json");
  const dir = "/dev/shm/kflowd-jsprofile";
  rmSync(out, { force: true });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const agent = await Agent.start({
    env: { BUN_OPTIONS: `--preload ${join(import.meta.dir, "lib/jsc-profile.ts")}`, KFLOWD_PROFILE_OUT: out },
    needles: ['"Proc": "kfgen"'],
  });
  await Bun.sleep(1000);
  const cpu0 = agent.cpu();
  await run([kfgen, "files", dir, "12500", "3"]);
  await run([kfgen, "conns", "5000", "3"]);
  await Bun.sleep(200);
  const cpu = agent.cpu() - cpu0;
  const r = await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  const p = JSON.parse(readFileSync(out, "utf8")) as JsProfile;
  const records = r.matched;
  const pct = (n: number): string => `${((100 * n) / p.samples).toFixed(1)}%`;
  const table = (list: [string, number][], n: number): string[] => [
    "| function | samples | share |",
    "|---|---:|---:|",
    ...list.slice(0, n).map(([k, v]) => `| \`${k.replace(/\|/g, "\\|")}\` | ${v} | ${pct(v)} |`),
  ];
  ctx.details.push(
    [
      `### The agent's JavaScript under load (JSC sampling profiler, ${p.intervalMs} ms interval)`,
      "",
      `${records.toLocaleString("en-US")} kfgen records (files at 25k/s for 3 s, then connections at 10k/s for 3 s); ` +
        `agent CPU ${cpu.toFixed(2)} s = ${((cpu * 1e6) / records).toFixed(1)} µs per record; ` +
        `${p.samples} JavaScript samples = ${((p.samples * p.intervalMs * 1000) / records).toFixed(1)} µs per record ` +
        "(the rest: GC, the runtime's native work outside JavaScript, the kernel side of its syscalls). " +
        "Names are the agent's bundled functions (its source lines are not kept in the executable); `[native]` are runtime built-ins.",
      "",
      "Self samples (the function was running):",
      "",
      ...table(p.self, 15),
      "",
      "Inclusive samples (the function was on the stack):",
      "",
      ...table(p.total, 15),
    ].join("\n"),
  );
  return [
    {
      bench: "profile",
      metric: "agent CPU µs per record (under load)",
      agent: (cpu * 1e6) / records,
      note: `JavaScript ${((p.samples * p.intervalMs * 1000) / records).toFixed(1)} µs of it; top self: ${p.self
        .slice(0, 3)
        .map(([k, v]) => `${k.split(" ")[0]} ${pct(v)}`)
        .join(", ")}`,
    },
  ];
}

export const profile: Bench = {
  name: "profile",
  title: "Per-program BPF cost (bpf_stats run_time_ns / run_cnt)",
  async run(ctx: Ctx): Promise<Row[]> {
    const sysloop = await cProgram("sysloop");
    const churnBin = await cProgram("churn");
    const kfgen = await cProgram("kfgen");
    const httpd = await cProgram("httpd");
    const wrk = await debianTool("wrk", "wrk");
    const churnDir = join(WORK, "profile-churn");
    const ladderDir = "/dev/shm/kflowd-profile";
    const loop = async (mode: string, n: number, ...extra: string[]): Promise<number> => {
      await run([sysloop, mode, String(n), ...extra]);
      return n;
    };
    const workloads: Workload[] = [
      { name: "getppid", unit: "call", go: () => loop("getppid", 2_000_000) },
      { name: "write /dev/null", unit: "call", go: () => loop("write-null", 1_000_000) },
      { name: "open+write+close", unit: "iteration", go: () => loop("open-write-close", 50_000, join(WORK, "profile-file")) },
      {
        name: "churn (ext4)",
        unit: "loop",
        go: async () => {
          rmSync(churnDir, { recursive: true, force: true });
          mkdirSync(churnDir, { recursive: true });
          await run([churnBin, churnDir, "20000"]);
          return 20_000;
        },
      },
      {
        name: "file create+close+unlink (tmpfs)",
        unit: "file",
        go: async () => {
          rmSync(ladderDir, { recursive: true, force: true });
          mkdirSync(ladderDir, { recursive: true });
          return Number((await run([kfgen, "files", ladderDir, "20000", "2"])).stdout.split(" ")[0]);
        },
      },
      {
        name: "TCP connect+accept+close",
        unit: "connection",
        go: async () => Number((await run([kfgen, "conns", "5000", "2"])).stdout.split(" ")[0]),
      },
      {
        name: "HTTP keep-alive (wrk)",
        unit: "request",
        go: async () => (await wrkRun(wrk, { name: "keep-alive", port: 18081, headers: [] }, 3)).requests,
      },
      {
        name: "HTTP close (wrk)",
        unit: "request",
        go: async () => (await wrkRun(wrk, { name: "close", port: 18081, headers: ["Connection: close"] }, 3)).requests,
      },
    ];
    const previous = readFileSync(STATS, "utf8").trim();
    let server: Subprocess | undefined;
    let agent: Agent | undefined;
    const rows: Row[] = [];
    const sections: string[] = [];
    const otherRows: string[] = [];
    try {
      server = await startServer(httpd, 18081);
      if (!server) throw new Error("the HTTP server could not listen on 127.0.0.1:18081");
      writeFileSync(STATS, "1");
      agent = await Agent.start();
      const names = new Map((await bpftoolProgs()).map((p) => [p.id, p.name ?? String(p.id)] as const));
      const own = heldObjects(agent.pid).progIds;
      for (const w of workloads) {
        const before = progSnapshot(agent.pid);
        const othersBefore = await otherPrograms(own);
        const ops = await w.go();
        const c = progCosts(before, progSnapshot(agent.pid), names, ops);
        const others = otherCost(othersBefore, await otherPrograms(own), ops);
        const total = c.reduce((s, x) => s + x.nsPerOp, 0);
        ctx.log(`  profile ${w.name}: ${total.toFixed(0)} ns of BPF per ${w.unit}; other BPF programs ${others.nsPerOp.toFixed(0)} ns`);
        rows.push({
          bench: "profile",
          metric: `${w.name}: BPF ns per ${w.unit}`,
          agent: total,
          note:
            c
              .slice(0, 3)
              .map((x) => `${x.name} ${x.nsPerOp.toFixed(0)}`)
              .join(", ") +
            (others.nsPerOp >= 1
              ? `; other BPF programs on the machine ${others.nsPerOp.toFixed(0)} ns (${others.programs} programs)`
              : ""),
        });
        otherRows.push(`| ${w.name} | ${w.unit} | ${total.toFixed(0)} | ${others.nsPerOp.toFixed(0)} | ${others.programs} |`);
        sections.push(
          [
            `**${w.name}** (${fmt(ops)} ${w.unit}s; ${total.toFixed(0)} ns of BPF per ${w.unit})`,
            "",
            `| program | runs per ${w.unit} | ns per run | ns per ${w.unit} |`,
            "|---|---:|---:|---:|",
            ...c
              .filter((x) => x.nsPerOp >= 1) // programs that ran only for unrelated background activity
              .map((x) => `| ${x.name} | ${x.runsPerOp.toFixed(2)} | ${x.nsPerRun.toFixed(0)} | ${x.nsPerOp.toFixed(0)} |`),
          ].join("\n"),
        );
      }
    } finally {
      writeFileSync(STATS, previous);
      if (agent) await agent.stop();
      server?.kill("SIGTERM");
      rmSync(churnDir, { recursive: true, force: true });
      rmSync(ladderDir, { recursive: true, force: true });
    }
    ctx.details.push(`### Per-program BPF cost (bpf_stats on)\n\n${sections.join("\n\n")}`);
    ctx.details.push(
      [
        "### BPF time of other programs on the machine during the same workloads",
        "",
        "Programs not loaded by the agent under test (other kflowd agents or tools attached meanwhile) run in the",
        "same syscalls and add their time to the baseline samples of the overhead benchmarks as well.",
        "",
        "| workload | per | this agent's BPF ns | other programs' BPF ns | other programs that ran |",
        "|---|---|---:|---:|---:|",
        ...otherRows,
      ].join("\n"),
    );
    rows.push(...(await jsProfile(ctx, kfgen)));
    return rows;
  },
};
