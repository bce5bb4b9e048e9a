/**
 * Syscall cost: nanoseconds per call of tight C loops, without and with the agent.
 * getppid touches no file: its delta is the fixed cost of the sys_enter/sys_exit
 * dispatchers every syscall of every process pays. write to /dev/null adds the fd
 * lookup the dispatcher does for reads and writes; open+write+close of one file is the
 * full file path (one record per iteration).
 */
import { join } from "node:path";
import { type Bench, type Ctx, lossNote, pairedRounds, pairedRow, pick } from "./lib/bench.ts";
import { median, type Row } from "./lib/stats.ts";
import { cProgram, run, WORK } from "./lib/sys.ts";

const LOOPS = {
  getppid: 2_000_000,
  "write-null": 1_000_000,
  "open-write-close": 50_000,
} as const;
type Mode = keyof typeof LOOPS;

export const syscall: Bench = {
  name: "syscall",
  title: "Syscall cost (ns per call, C loops)",
  async run(ctx: Ctx): Promise<Row[]> {
    const bin = await cProgram("sysloop");
    const file = join(WORK, "sysloop-file");
    const modes = Object.keys(LOOPS) as Mode[];
    /** per mode: [wall ns per call (the loop's own clock), CPU ns per call] */
    const once = async (): Promise<Record<Mode, [number, number]>> => {
      const out = {} as Record<Mode, [number, number]>;
      for (const m of modes) {
        const args = [bin, m, String(LOOPS[m]), ...(m === "open-write-close" ? [file] : [])];
        const done = await run(args);
        out[m] = [Number(done.stdout.trim().split(" ")[2]), (done.cpuMs * 1e6) / LOOPS[m]];
      }
      return out;
    };
    const r = await pairedRounds(ctx, "syscall", () => once());
    const rows: Row[] = [];
    for (const m of modes) {
      const { b, a } = pick(r, (x) => x[m][0]);
      const delta = median(a.map((x, i) => x - b[i]!));
      rows.push(
        pairedRow(
          r,
          (x) => x[m][0],
          {
            bench: "syscall",
            metric: m === "open-write-close" ? "open+write+close ns/iteration" : `${m} ns/call`,
            note: `+${delta.toFixed(0)} ns${m === "open-write-close" ? `; ${lossNote(r.samples)}` : ""}`,
          },
          (x) => x[m][1],
        ),
      );
    }
    return rows;
  },
};
