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

/**
 * u64Big() at off, or same when the 8 bytes at off are those at sameOff (same was read
 * from there): times of a record often repeat (ctime = mtime), and a bigint of the size
 * of ns timestamps is an allocation.
 */
export function u64BigOr(view: DataView, off: number, sameOff: number, same: bigint): bigint {
  return view.getUint32(off, true) === view.getUint32(sameOff, true) && view.getUint32(off + 4, true) === view.getUint32(sameOff + 4, true)
    ? same
    : view.getBigUint64(off, true);
}

/** Bytes before the NUL (or the end) of a fixed-size field. */
export function cStringLength(bytes: Uint8Array, off: number, max: number): number {
  let end = off;
  const limit = off + max;
  while (end < limit && bytes[end] !== 0) end++;
  return end - off;
}

/** A NUL-terminated string in a fixed-size field. */
export function cString(bytes: Uint8Array, off: number, max: number): string {
  const len = cStringLength(bytes, off, max);
  return len === 0 ? "" : utf8.decode(bytes.subarray(off, off + len));
}

/**
 * text() that remembers the last bytes it decoded: names (comm, executables) come in runs
 * of records of the same process, and comparing a few bytes is cheaper than decoding.
 */
export class RecentText {
  private bytes = new Uint8Array(0);
  private value = "";

  get(bytes: Uint8Array, off: number, len: number): string {
    const last = this.bytes;
    if (len === last.length) {
      let i = 0;
      while (i < len && bytes[off + i] === last[i]) i++;
      if (i === len) return this.value;
    }
    this.bytes = bytes.slice(off, off + len);
    this.value = utf8.decode(this.bytes);
    return this.value;
  }
}

/** len bytes as UTF-8; invalid sequences become U+FFFD. */
export function text(bytes: Uint8Array, off: number, len: number): string {
  return utf8.decode(bytes.subarray(off, off + len));
}
