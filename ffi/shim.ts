/**
 * The C shim (ffi/shim.c, and ffi/canary.c for the self-test), embedded in the executable. It is loaded from an anonymous
 * memfd, never from a file with a predictable name in a world-writable directory.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { closeSync, writeSync } from "node:fs";
import { SetupError } from "./errors.ts";

const { i32, u32, u64 } = FFIType;
const P = FFIType.ptr;

const SYMBOLS = {
  kf_log_init: { args: [i32], returns: i32 },
  kf_log_clear: { args: [], returns: i32 },
  kf_log_read: { args: [P, u32, P], returns: i32 },
  kf_open_mem: { args: [P, u64, P], returns: i32 },
  kf_attach: { args: [P, P], returns: i32 },
  kf_attach_cgroup: { args: [P, i32, P], returns: i32 },
  kf_iter_run: { args: [P], returns: i32 },
  kf_ring_open: { args: [i32, u32, P], returns: i32 },
  kf_ring_drain: { args: [P, P, u32, P], returns: i32 },
  kf_ring_fill: { args: [P, P], returns: i32 },
  kf_ring_close: { args: [P], returns: FFIType.void },
  kf_canary: { args: [P, P, P, P], returns: i32 },
  kf_cgroup_path: { args: [i32, u64, P, u32, P], returns: i32 },
} as const;

export type Shim = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

const libc = dlopen("libc.so.6", {
  memfd_create: { args: [P, u32], returns: i32 },
}).symbols;

const MFD_CLOEXEC = 1;

/**
 * Writes bytes to a new memfd and returns a path that dlopen() can use. The fd stays
 * open for the life of the process (the mapping needs no file, but the path does).
 */
function memfdPath(name: string, bytes: Uint8Array): string {
  const fd = libc.memfd_create(ptr(Buffer.from(`${name}\0`)), MFD_CLOEXEC);
  if (fd < 0) throw new SetupError(`memfd_create failed while loading ${name}`);
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return `/proc/self/fd/${fd}`;
}

/** Loads the shim from the embedded file at path (a $bunfs path in the executable). */
export async function loadShim(path: string): Promise<Shim> {
  const bytes = await Bun.file(path).bytes();
  try {
    return dlopen(memfdPath("kflowd-shim", bytes), SYMBOLS).symbols;
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new SetupError(`cannot load the libbpf shim: ${why}`);
  }
}
