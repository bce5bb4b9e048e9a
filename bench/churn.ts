/**
 * File churn: a C loop that creates a file, writes 256 bytes, closes it, renames it and
 * unlinks it, on ext4 (the root file system) and on tmpfs. Wall time with the agent over
 * wall time without (DESIGN §8: ≤ 1.5×).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Bench, type Ctx, lossNote, pairedRounds, pairedRow } from "./lib/bench.ts";
import { median, type Row } from "./lib/stats.ts";
import { cProgram, run, WORK } from "./lib/sys.ts";

const LOOPS = 20_000;
const DIRS = { ext4: join(WORK, "churn"), tmpfs: "/dev/shm/kflowd-bench-churn" } as const;
type Fs = keyof typeof DIRS;

export const churn: Bench = {
  name: "churn",
  title: "File churn (create/write/close/rename/unlink), wall time",
  async run(ctx: Ctx): Promise<Row[]> {
    const bin = await cProgram("churn");
    /** per file system: [wall µs per loop, CPU µs per loop] */
    const once = async (): Promise<Record<Fs, [number, number]>> => {
      const out = {} as Record<Fs, [number, number]>;
      for (const fs of Object.keys(DIRS) as Fs[]) {
        const dir = DIRS[fs];
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        const done = await run([bin, dir, String(LOOPS)]);
        out[fs] = [Number(done.stdout.trim().split(" ")[3]) / 1000, (done.cpuMs * 1000) / LOOPS];
      }
      return out;
    };
    try {
      const r = await pairedRounds(ctx, "churn", () => once(), { needles: ['"Proc": "churn"'] });
      const perLoop = median(r.samples.map((s) => s.result.matched)) / (2 * LOOPS);
      const cpu = median(r.samples.map((s) => s.cpuSec / s.wallSec));
      return (Object.keys(DIRS) as Fs[]).map((fs) => {
        const row = pairedRow(
          r,
          (x) => x[fs][0],
          {
            bench: "churn",
            metric: `${fs}: µs per loop (${LOOPS} loops)`,
            target: "≤ 1.5×",
            note:
              fs === "ext4"
                ? `~${perLoop.toFixed(1)} records/loop; agent ${(cpu * 100).toFixed(0)}% of a core; ${lossNote(r.samples)}`
                : undefined,
          },
          (x) => x[fs][1],
        );
        return { ...row, met: row.ratio <= 1.5 };
      });
    } finally {
      for (const dir of Object.values(DIRS)) rmSync(dir, { recursive: true, force: true });
    }
  },
};
