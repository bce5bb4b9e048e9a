/**
 * File churn: a C loop that creates a file, writes 256 bytes, closes it, renames it and
 * unlinks it, on ext4 (the root file system) and on tmpfs. Wall time with the agent over
 * wall time without (DESIGN §8: ≤ 1.30×). Each sample runs after the same load once (a
 * fresh agent's JIT compiles during its first seconds; reported apart).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { agentUsPerRecord, type Bench, type Ctx, coldRounds, lossNote, pairedRounds, pairedRow } from "./lib/bench.ts";
import { median, type Row } from "./lib/stats.ts";
import { cProgram, run, WORK } from "./lib/sys.ts";

const LOOPS = 20_000;
const DIRS = { ext4: join(WORK, "churn"), tmpfs: "/dev/shm/kflowd-bench-churn" } as const;
export type Fs = keyof typeof DIRS;
export const FILE_SYSTEMS = Object.keys(DIRS) as Fs[];
const LIMIT = 1.3;

/** The churn loop once on each file system: per file system [wall µs per loop, CPU µs per loop]. */
export async function churnOnce(bin: string): Promise<Record<Fs, [number, number]>> {
  const out = {} as Record<Fs, [number, number]>;
  for (const fs of FILE_SYSTEMS) {
    const dir = DIRS[fs];
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const done = await run([bin, dir, String(LOOPS)]);
    out[fs] = [Number(done.stdout.trim().split(" ")[3]) / 1000, (done.cpuMs * 1000) / LOOPS];
  }
  return out;
}

/** Runs f with the churn program built; its directories are removed after. */
export async function withChurn<T>(f: (bin: string) => Promise<T>): Promise<T> {
  const bin = await cProgram("churn");
  try {
    return await f(bin);
  } finally {
    for (const dir of Object.values(DIRS)) rmSync(dir, { recursive: true, force: true });
  }
}

export const churn: Bench = {
  name: "churn",
  title: "File churn (create/write/close/rename/unlink), wall time",
  async run(ctx: Ctx): Promise<Row[]> {
    return withChurn(async (bin) => {
      const once = (): Promise<Record<Fs, [number, number]>> => churnOnce(bin);
      const r = await pairedRounds(ctx, "churn", once, { needles: ['"Proc": "churn"'] }, once);
      const perLoop = median(r.samples.map((s) => s.result.matched)) / (4 * LOOPS);
      const cpu = median(r.samples.map((s) => s.cpuSec / s.wallSec));
      return FILE_SYSTEMS.flatMap((fs) => {
        const row = pairedRow(
          r,
          (x) => x[fs][0],
          {
            bench: "churn",
            metric: `${fs}: µs per loop (${LOOPS} loops)`,
            target: `≤ ${LIMIT.toFixed(2)}×`,
            note:
              fs === "ext4"
                ? `~${perLoop.toFixed(1)} records/loop; agent ${(cpu * 100).toFixed(0)}% of a core, ${agentUsPerRecord(r.samples).toFixed(1)} µs per record; ${lossNote(r.samples)}`
                : undefined,
          },
          (x) => x[fs][1],
        );
        const cold = pairedRow(coldRounds(r), (x) => x[fs][0], {
          bench: "churn",
          metric: `${fs}, a fresh agent's first run: µs per loop`,
          target: "–",
          note: "the agent's JIT compiling",
        });
        return [{ ...row, met: row.ratio <= LIMIT }, cold];
      });
    });
  },
};
