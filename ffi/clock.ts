/**
 * CLOCK_MONOTONIC from libc: the clock of bpf_ktime_get_ns(). (process.hrtime in Bun
 * counts from process start, so it cannot be compared with kernel timestamps.)
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

const CLOCK_MONOTONIC = 1;
const libc = dlopen("libc.so.6", {
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
}).symbols;
const ts = new BigInt64Array(2);
const tsPtr = ptr(ts);

export function monotonicNs(): bigint {
  libc.clock_gettime(CLOCK_MONOTONIC, tsPtr);
  return ts[0]! * 1_000_000_000n + ts[1]!;
}
