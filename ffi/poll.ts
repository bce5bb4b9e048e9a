/**
 * Whether the far end of a descriptor the agent writes to is gone, seen without writing
 * (poll(2) with no timeout): a pipe or FIFO whose last reader closed reports POLLERR, a
 * terminal that hung up POLLHUP. Regular files and /dev/null never do.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
}).symbols;

const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;

/** struct pollfd { int fd; short events; short revents; } */
const pfd = new DataView(new ArrayBuffer(8));
const pfdPtr = ptr(pfd);

/** "EPIPE" (no reader) or "EIO" (hung up) if fd's far end is gone, else undefined. */
export function writeEndGone(fd: number): string | undefined {
  pfd.setInt32(0, fd, true);
  pfd.setInt16(4, POLLOUT, true);
  pfd.setInt16(6, 0, true);
  if (libc.poll(pfdPtr, 1, 0) <= 0) return undefined;
  const revents = pfd.getInt16(6, true);
  // a hung-up terminal reports both
  if (revents & POLLHUP) return "EIO";
  if (revents & POLLERR) return "EPIPE";
  return undefined;
}
