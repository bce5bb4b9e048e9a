/**
 * The bytes of framed records on their way to a stream connection (the syslog relay), in
 * memory, bounded: records not sent yet, and behind them the last ones sent, kept to be
 * sent again after the connection is lost (the window). TCP cannot tell what the far end
 * had read when a connection broke — bytes it acknowledged may still sit unread in its
 * socket buffer when it exits — so what was sent last is sent again on the next one.
 *
 * Records are kept in chunks of CHUNK_BYTES (a larger record gets a chunk of its own),
 * a record never spans two chunks, so every chunk starts at a record. The window is the
 * whole chunks before the one being sent, plus what of that one went out; it is trimmed a
 * chunk at a time, oldest first, once it holds more than `windowBytes`. A record that
 * does not fit beside the unsent ones and the window is dropped (counted); the window
 * gives way to new records first.
 *
 * Frames are RFC 5425/6587 octet counting ("LEN SP MSG"), which lets the records in a
 * range be counted by walking the frames (countFrames), without a table of offsets.
 */

/** records are gathered into chunks of this size: usually one write per batch */
export const CHUNK_BYTES = 1 << 20;
/**
 * chunks given up are kept for reuse, up to this many and within the spool's bound:
 * allocating (and faulting in) a fresh 1 MiB chunk each time cost ~1 µs per record with
 * the relay on loopback, reuse ~0.15 µs
 */
const MAX_SPARES = 8;

interface Chunk {
  buf: Uint8Array;
  /** bytes used */
  len: number;
  /** records in it */
  records: number;
}

/** How many whole frames ("LEN SP MSG") start and end within buf[0, end). */
export function countFrames(buf: Uint8Array, end: number): number {
  let n = 0;
  let p = 0;
  while (p < end) {
    let len = 0;
    while (p < end && buf[p] !== 32) len = len * 10 + buf[p++]! - 48;
    p += 1 + len;
    if (p > end) break;
    n++;
  }
  return n;
}

/** The stream a spool writes to; returns the bytes it took (-1: the connection is gone). */
export type SpoolWrite = (buf: Uint8Array, offset: number, length: number) => number;

export class Spool {
  private readonly chunks: Chunk[] = [];
  /** index in chunks of the chunk being sent, and the bytes of it already sent */
  private sendIdx = 0;
  private sendOff = 0;
  /** after rewind(): where sending had got to, so what lies before it was sent once already */
  private sentIdx = 0;
  private sentOff = 0;
  /** all bytes held (window and unsent) */
  private held = 0;
  /** bytes in the window's whole chunks (those before sendIdx) */
  private windowHeld = 0;
  /** chunks of CHUNK_BYTES kept for reuse after the window gave them up */
  private readonly spares: Uint8Array[] = [];
  /** records not taken because the spool was full */
  dropped = 0;
  /** records taken into the spool */
  taken = 0;
  /** records given up from the window: sent, and assumed read by the far end */
  delivered = 0;

  constructor(
    readonly maxBytes: number,
    readonly windowBytes: number,
  ) {}

  /** Bytes held: records not sent yet and the window. */
  get bytes(): number {
    return this.held;
  }

  /** Whether records are waiting to be sent. */
  get pending(): boolean {
    const c = this.chunks[this.sendIdx];
    return c !== undefined && (this.sendOff < c.len || this.sendIdx < this.chunks.length - 1);
  }

  /**
   * Room at the end for one record of `bytes` bytes: the buffer and the offset to write it
   * at, then commit() it; undefined when it does not fit (counted as dropped).
   */
  reserve(bytes: number): Chunk | undefined {
    while (this.held + bytes > this.maxBytes && this.sendIdx > 0) this.giveUpOldest();
    if (this.held + bytes > this.maxBytes) {
      this.dropped++;
      return undefined;
    }
    const last = this.chunks[this.chunks.length - 1];
    if (last && last.buf.length - last.len >= bytes) return last;
    const size = Math.max(CHUNK_BYTES, bytes);
    let buf: Uint8Array;
    const spare = size === CHUNK_BYTES ? this.spares.pop() : undefined;
    if (spare) {
      buf = spare;
    } else {
      buf = new Uint8Array(size);
    }
    const chunk: Chunk = { buf, len: 0, records: 0 };
    this.chunks.push(chunk);
    return chunk;
  }

  /** Takes the record written into chunk (from reserve()) at chunk.len, `bytes` long. */
  commit(chunk: Chunk, bytes: number): void {
    chunk.len += bytes;
    chunk.records++;
    this.held += bytes;
    this.taken++;
  }

  /**
   * Writes unsent bytes, chunk after chunk, until they are all out or write() takes less
   * than it was given (the connection is busy: call again when it drains). Returns false
   * if write() said the connection is gone.
   */
  send(write: SpoolWrite): boolean {
    for (;;) {
      const c = this.chunks[this.sendIdx];
      if (!c) return true;
      if (this.sendOff === c.len) {
        // the last chunk may still grow: stay on it
        if (this.sendIdx === this.chunks.length - 1) break;
        this.windowHeld += c.len;
        this.sendIdx++;
        this.sendOff = 0;
        continue;
      }
      const want = c.len - this.sendOff;
      const n = write(c.buf, this.sendOff, want);
      if (n < 0) return false;
      this.sendOff += n;
      if (n < want) break;
    }
    this.trimWindow();
    return true;
  }

  /**
   * The connection was lost: the window is sent again from its start on the next one.
   * Returns the bytes and records (whole frames) that are sent again.
   */
  rewind(): { bytes: number; records: number } {
    const bytes = this.windowHeld + this.sendOff;
    let records = 0;
    for (let i = 0; i < this.sendIdx; i++) records += this.chunks[i]!.records;
    const c = this.chunks[this.sendIdx];
    if (c && this.sendOff > 0) records += countFrames(c.buf, this.sendOff);
    if (this.sendIdx > this.sentIdx || (this.sendIdx === this.sentIdx && this.sendOff > this.sentOff)) {
      this.sentIdx = this.sendIdx;
      this.sentOff = this.sendOff;
    }
    this.sendIdx = 0;
    this.sendOff = 0;
    this.windowHeld = 0;
    return { bytes, records };
  }

  /**
   * Records never written whole to any connection (the window sent again after a rewind
   * is not among them): what is lost if the agent stops now.
   */
  neverSent(): number {
    let idx = this.sendIdx;
    let off = this.sendOff;
    if (this.sentIdx > idx || (this.sentIdx === idx && this.sentOff > off)) {
      idx = this.sentIdx;
      off = this.sentOff;
    }
    let n = 0;
    for (let i = idx; i < this.chunks.length; i++) n += this.chunks[i]!.records;
    const c = this.chunks[idx];
    if (c && off > 0) n -= countFrames(c.buf, off);
    return n;
  }

  /**
   * Window chunks are given up, oldest first, while the rest still holds windowBytes: the
   * window keeps at least the last windowBytes sent (unless new records needed the room).
   */
  private trimWindow(): void {
    while (this.sendIdx > 0 && this.windowHeld - this.chunks[0]!.len >= this.windowBytes) this.giveUpOldest();
  }

  private giveUpOldest(): void {
    const c = this.chunks.shift()!;
    this.sendIdx--;
    if (this.sentIdx > 0) this.sentIdx--;
    else this.sentOff = 0;
    this.windowHeld -= c.len;
    this.held -= c.len;
    this.delivered += c.records;
    // held and spares together stay within the bound
    const spares = this.spares.length;
    if (c.buf.length === CHUNK_BYTES && spares < MAX_SPARES && this.held + (spares + 1) * CHUNK_BYTES <= this.maxBytes) {
      this.spares.push(c.buf);
    }
  }
}
