/**
 * BPF CPU per operation from the kernel's own statistics (kernel.bpf_stats_enabled=1):
 * run_time_ns and run_cnt of a process's programs from /proc/<pid>/fdinfo, before and
 * after a workload. Robust to other jobs on a shared machine, unlike wall time: it
 * counts only the time the programs ran. The statistics themselves cost two clock reads
 * per program run, so this is a phase of its own, never beside a timed one.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { bpftoolProgs, heldObjects } from "./sys.ts";

const STATS = "/proc/sys/kernel/bpf_stats_enabled";

export type ProgSnapshot = Map<number, { runTimeNs: number; runCnt: number }>;

/** run_time_ns and run_cnt of every program pid holds. */
export function progSnapshot(pid: number): ProgSnapshot {
  return heldObjects(pid).progStats;
}

export interface ProgCost {
  readonly name: string;
  readonly runsPerOp: number;
  readonly nsPerRun: number;
  readonly nsPerOp: number;
}

/** Per program that ran between before and after: runs, ns per run and ns per operation. */
export function progCosts(before: ProgSnapshot, after: ProgSnapshot, names: ReadonlyMap<number, string>, ops: number): ProgCost[] {
  const out: ProgCost[] = [];
  for (const [id, a] of after) {
    const b = before.get(id) ?? { runTimeNs: 0, runCnt: 0 };
    const runs = a.runCnt - b.runCnt;
    const ns = a.runTimeNs - b.runTimeNs;
    if (runs <= 0) continue;
    out.push({ name: names.get(id) ?? String(id), runsPerOp: runs / ops, nsPerRun: ns / runs, nsPerOp: ns / ops });
  }
  return out.sort((x, y) => y.nsPerOp - x.nsPerOp);
}

/** Program names by id (bpftool; BPF names keep 15 characters). */
export async function progNames(): Promise<Map<number, string>> {
  return new Map((await bpftoolProgs()).map((p) => [p.id, p.name ?? String(p.id)] as const));
}

/** Runs f with kernel.bpf_stats_enabled=1, restoring the previous value after. */
export async function withBpfStats<T>(f: () => Promise<T>): Promise<T> {
  const previous = readFileSync(STATS, "utf8").trim();
  writeFileSync(STATS, "1");
  try {
    return await f();
  } finally {
    writeFileSync(STATS, previous);
  }
}

/** A Markdown table of costs (programs under 1 ns per operation left out). */
export function costTable(costs: readonly ProgCost[], unit: string): string {
  const total = costs.reduce((s, x) => s + x.nsPerOp, 0);
  return [
    `| program | runs per ${unit} | ns per run | ns per ${unit} |`,
    "|---|---:|---:|---:|",
    ...costs
      .filter((x) => x.nsPerOp >= 1)
      .map((x) => `| ${x.name} | ${x.runsPerOp.toFixed(2)} | ${x.nsPerRun.toFixed(0)} | ${x.nsPerOp.toFixed(0)} |`),
    `| **total** | | | **${total.toFixed(0)}** |`,
  ].join("\n");
}
