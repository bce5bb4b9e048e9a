/**
 * io_uring I/O: Debian's fio with its io_uring engine, 4 KiB random reads and writes
 * (70/30) at queue depth 16 on a file in the page cache, so that the cost per request
 * (the submission and completion hooks, the file record's update) is not hidden behind
 * the disk. Time per request with the agent over without (issue 21: ≤ 1.30×).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Bench, type Ctx, lossNote, pairedRounds, pairedRow } from "./lib/bench.ts";
import { median, type Row } from "./lib/stats.ts";
import { debianTool, run, WORK } from "./lib/sys.ts";

const DIR = join(WORK, "uring");
const FILE_MIB = 64;
/** requests per sample: 4 KiB each */
const IO_MIB = 512;

interface FioRun {
  /** µs per request */
  readonly usPerIo: number;
  readonly ios: number;
}

export const uring: Bench = {
  name: "uring",
  title: "io_uring I/O (fio, io_uring engine, 4 KiB randrw, QD 16, page cache), time per request",
  async run(ctx: Ctx): Promise<Row[]> {
    const fio = await debianTool("fio", "fio");
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    const job = [
      fio,
      "--name=uring",
      "--ioengine=io_uring",
      `--filename=${join(DIR, "data")}`,
      `--size=${FILE_MIB}M`,
      `--io_size=${IO_MIB}M`,
      "--rw=randrw",
      "--rwmixread=70",
      "--bs=4k",
      "--iodepth=16",
      "--direct=0",
      "--randrepeat=1",
      "--output-format=json",
    ];
    const once = async (): Promise<FioRun> => {
      const done = await run(job);
      const j = JSON.parse(done.stdout.slice(done.stdout.indexOf("{"))) as {
        jobs: { job_runtime: number; read: { total_ios: number }; write: { total_ios: number } }[];
      };
      const r = j.jobs[0]!;
      const ios = r.read.total_ios + r.write.total_ios;
      return { usPerIo: (r.job_runtime * 1000) / ios, ios };
    };
    try {
      // the file is laid out and in the page cache before the first sample
      await once();
      const r = await pairedRounds(ctx, "uring", () => once());
      const ios = median(r.agent.map((x) => x.ios));
      const cpu = median(r.samples.map((s) => s.cpuSec / s.wallSec));
      const row = pairedRow(r, (x) => x.usPerIo, {
        bench: "uring",
        metric: `µs per 4 KiB request (${ios} requests)`,
        target: "≤ 1.30×",
        note: `agent ${(cpu * 100).toFixed(0)}% of a core; ${lossNote(r.samples)}`,
      });
      return [{ ...row, met: row.ratio <= 1.3 }];
    } finally {
      rmSync(DIR, { recursive: true, force: true });
    }
  },
};
