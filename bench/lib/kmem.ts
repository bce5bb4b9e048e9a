/**
 * Kernel memory of an agent: its BPF maps (held as fds, or referenced by its programs)
 * and programs, from /proc/<pid>/fdinfo and bpftool. bytes_memlock is the kernel's own
 * accounting; for hash maps without preallocation it follows the entries in use, so the
 * worst case (every entry used) is computed too, both as the kernel would account it
 * and as slab memory (elements come from kmalloc size classes: powers of two).
 */
import { bpftoolMaps, bpftoolProgs, heldObjects } from "./sys.ts";

export interface MapMemory {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly maxEntries: number;
  /** bytes_memlock now */
  readonly memlock: number;
  /** bytes_memlock with every entry in use (= memlock for preallocated maps) */
  readonly memlockFull: number;
  /** slab bytes with every entry in use */
  readonly slabFull: number;
}

export interface KernelMemory {
  readonly maps: MapMemory[];
  /** programs: count and bytes_memlock */
  readonly progs: number;
  readonly progBytes: number;
  readonly mapBytes: number;
  readonly mapBytesFull: number;
  readonly slabBytesFull: number;
}

const HTAB_ELEM = 48; // struct htab_elem up to the key (x86_64)
const LLIST_NODE = 8; // bpf_mem_alloc's room for a free-list node
const BUCKET = 16; // struct bucket: hlist_nulls_head + lock
const NO_PREALLOC = 1;

const up8 = (n: number): number => Math.ceil(n / 8) * 8;
const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
/** kmalloc size class of an allocation (8 .. 8 KiB; larger ones are page allocations) */
const kmalloc = (n: number): number => (n <= 96 ? up8(n) : n <= 128 ? 128 : n <= 192 ? 192 : pow2(n));

export async function kernelMemory(pid: number): Promise<KernelMemory> {
  const held = heldObjects(pid);
  const progs = (await bpftoolProgs()).filter((p) => held.progIds.has(p.id));
  const ids = new Set(held.mapIds);
  for (const p of progs) for (const m of p.map_ids ?? []) ids.add(m);
  const maps: MapMemory[] = (await bpftoolMaps())
    .filter((m) => ids.has(m.id))
    .map((m) => {
      let memlockFull = m.bytes_memlock;
      let slabFull = m.bytes_memlock;
      if (m.type === "hash" && m.flags & NO_PREALLOC) {
        const elem = HTAB_ELEM + up8(m.bytes_key) + up8(m.bytes_value) + LLIST_NODE;
        const fixed = pow2(m.max_entries) * BUCKET;
        memlockFull = fixed + m.max_entries * elem;
        slabFull = fixed + m.max_entries * kmalloc(elem);
      }
      return {
        id: m.id,
        name: m.name ?? "?",
        type: m.type,
        maxEntries: m.max_entries,
        memlock: m.bytes_memlock,
        memlockFull,
        slabFull,
      };
    });
  const sum = (f: (m: MapMemory) => number): number => maps.reduce((s, m) => s + f(m), 0);
  return {
    maps,
    progs: progs.length,
    progBytes: progs.reduce((s, p) => s + (p.bytes_memlock ?? 0), 0),
    mapBytes: sum((m) => m.memlock),
    mapBytesFull: sum((m) => m.memlockFull),
    slabBytesFull: sum((m) => m.slabFull),
  };
}

export const MiB = (bytes: number): number => bytes / 2 ** 20;
