/**
 * A growable byte buffer that records are written into as UTF-8, one after the other,
 * so that a drain's output reaches the writer as one chunk instead of one string per
 * record.
 */

const encoder = new TextEncoder();

export class JsonBytes {
  buf: Uint8Array;
  /** bytes used; what follows is free */
  pos = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** Room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Any text as UTF-8 (lone surrogates become U+FFFD, as with TextEncoder). */
  text(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    this.ensure(s.length * 3);
    this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** The bytes written, as a view of the buffer (valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Starts over with a buffer of `bytes` (the old one may have grown large). */
  reset(bytes = this.buf.length): void {
    if (bytes !== this.buf.length) this.buf = new Uint8Array(bytes);
    this.pos = 0;
  }
}
