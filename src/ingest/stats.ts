/** Sums the kernel's per-CPU loss and health counters (map "stats", enum stat_id). */
import { ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import type { Libbpf } from "../../ffi/libbpf.ts";
import { RecStats, StatId } from "../records/layout.gen.ts";

export type KernelStats = Record<keyof typeof StatId, number>;

/**
 * A reader of the stats map that keeps its buffers: the agent reads it several times a
 * second (deferred records) and at every statistics line.
 */
export function kernelStatsReader(lib: Libbpf, fd: number): () => KernelStats {
  const cpus = Math.max(lib.libbpf_num_possible_cpus(), 1);
  // per-CPU values are laid out one after another, each rounded up to 8 bytes
  const stride = (RecStats.SIZE + 7) & ~7;
  const buf = new Uint8Array(stride * cpus);
  const view = new DataView(buf.buffer);
  const key = new Uint32Array(1);
  const ids = Object.entries(StatId) as [keyof typeof StatId, number][];
  return () => {
    const out = {} as KernelStats;
    const ok = lib.bpf_map_lookup_elem(fd, ptr(key), ptr(buf)) === 0;
    for (const [name, id] of ids) {
      let sum = 0;
      if (ok && id < StatId.STAT_COUNT) {
        for (let cpu = 0; cpu < cpus; cpu++) sum += Number(view.getBigUint64(cpu * stride + RecStats.counters + 8 * id, true));
      }
      out[name] = sum;
    }
    return out;
  };
}

/** One reading of the stats map. */
export function readKernelStats(lib: Libbpf, fd: number): KernelStats {
  return kernelStatsReader(lib, fd)();
}

/**
 * Runs of the agent's attached programs the kernel skipped, by program: an event that
 * came while the same program was still running on that CPU (preempted, or interrupted
 * by the event's own context) is not given to it at all (recursion_misses in the
 * program's fdinfo, 5.12+; absent before, counted as 0). Such an event is lost to the agent.
 */
export function programRunsSkipped(programs: ReadonlyMap<string, number>, fdinfoDir = "/proc/self/fdinfo"): Map<string, number> {
  const skipped = new Map<string, number>();
  for (const [name, fd] of programs) {
    let info: string;
    try {
      info = readFileSync(`${fdinfoDir}/${fd}`, "utf8");
    } catch {
      continue;
    }
    const n = Number(/^recursion_misses:\s+(\d+)/m.exec(info)?.[1] ?? 0);
    if (n > 0) skipped.set(name, n);
  }
  return skipped;
}
