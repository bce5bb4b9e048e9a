/** Sums the kernel's per-CPU loss and health counters (map "stats", enum stat_id). */
import { ptr } from "bun:ffi";
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
