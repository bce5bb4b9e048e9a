/** Little-endian field readers shared by the record decoders. */

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** A u64 that fits a double exactly (sizes, counts below 2^53). */
export function u64(view: DataView, off: number): number {
  return view.getUint32(off + 4, true) * 0x1_0000_0000 + view.getUint32(off, true);
}

/** A u64 kept whole (nanosecond timestamps, inode numbers). */
export function u64Big(view: DataView, off: number): bigint {
  return view.getBigUint64(off, true);
}

/** A NUL-terminated string in a fixed-size field. */
export function cString(bytes: Uint8Array, off: number, max: number): string {
  let end = off;
  const limit = off + max;
  while (end < limit && bytes[end] !== 0) end++;
  return utf8.decode(bytes.subarray(off, end));
}

/** len bytes as UTF-8; invalid sequences become U+FFFD. */
export function text(bytes: Uint8Array, off: number, len: number): string {
  return utf8.decode(bytes.subarray(off, off + len));
}
