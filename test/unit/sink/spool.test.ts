// The spool between the syslog output and its connection: frames kept whole, the window
// of sent records kept for a new connection, the bound, and exact counts of what is lost.
import { describe, expect, test } from "bun:test";
import { CHUNK_BYTES, countFrames, Spool } from "../../../src/sink/spool.ts";

const encoder = new TextEncoder();

/** Adds one frame "LEN SP MSG" holding text; false if the spool dropped it. */
function add(spool: Spool, text: string): boolean {
  const msg = encoder.encode(text);
  const frame = encoder.encode(`${msg.length} `);
  const c = spool.reserve(frame.length + msg.length);
  if (!c) return false;
  c.buf.set(frame, c.len);
  c.buf.set(msg, c.len + frame.length);
  spool.commit(c, frame.length + msg.length);
  return true;
}

/** A connection that takes at most `room` bytes until given more; keeps what it took. */
class Conn {
  text = "";
  gone = false;
  constructor(public room = Infinity) {}
  write = (buf: Uint8Array, off: number, len: number): number => {
    if (this.gone) return -1;
    const n = Math.min(len, this.room);
    this.room -= n;
    this.text += new TextDecoder().decode(buf.subarray(off, off + n));
    return n;
  };
}

/** The messages of whole frames in text, in order. */
function frames(text: string): string[] {
  const out: string[] = [];
  let p = 0;
  while (p < text.length) {
    const sp = text.indexOf(" ", p);
    const len = Number(text.slice(p, sp));
    if (sp + 1 + len > text.length) break;
    out.push(text.slice(sp + 1, sp + 1 + len));
    p = sp + 1 + len;
  }
  return out;
}

const msg = (i: number, size = 100): string => `${i}:`.padEnd(size, "x");

describe("spool", () => {
  test("countFrames counts whole frames only", () => {
    const b = encoder.encode("3 abc10 0123456789");
    expect(countFrames(b, b.length)).toBe(2);
    expect(countFrames(b, 5)).toBe(1);
    expect(countFrames(b, 4)).toBe(0);
    expect(countFrames(b, 0)).toBe(0);
  });

  test("records go out in order, in one write while the connection takes it all", () => {
    const s = new Spool(1 << 20, 1 << 16);
    for (let i = 0; i < 100; i++) add(s, msg(i));
    let writes = 0;
    const conn = new Conn();
    expect(s.send((b, o, l) => (writes++, conn.write(b, o, l)))).toBe(true);
    expect(writes).toBe(1);
    expect(frames(conn.text)).toEqual(Array.from({ length: 100 }, (_, i) => msg(i)));
    expect(s.pending).toBe(false);
    expect(s.neverSent()).toBe(0);
  });

  test("a connection that takes part: the rest waits, nothing is sent twice", () => {
    const s = new Spool(1 << 20, 1 << 16);
    for (let i = 0; i < 10; i++) add(s, msg(i));
    const conn = new Conn(250);
    s.send(conn.write);
    expect(s.pending).toBe(true);
    expect(s.neverSent()).toBe(8);
    conn.room = Infinity;
    s.send(conn.write);
    expect(frames(conn.text)).toEqual(Array.from({ length: 10 }, (_, i) => msg(i)));
  });

  test("a lost connection: the window is sent again first, then the rest; the far end can drop the duplicates", () => {
    const s = new Spool(64 << 20, 2 * CHUNK_BYTES);
    const first = new Conn();
    for (let i = 0; i < 30_000; i++) add(s, msg(i));
    s.send(first.write);
    // the relay read only the first 1000 records, then went away
    first.gone = true;
    for (let i = 30_000; i < 31_000; i++) add(s, msg(i));
    expect(s.send(first.write)).toBe(false);
    const again = s.rewind();
    expect(again.bytes).toBeGreaterThanOrEqual(2 * CHUNK_BYTES);
    expect(again.records).toBe(countFrames(encoder.encode(first.text), first.text.length) - s.delivered);
    // what was never sent is lost if the agent stops now; the window was sent once
    expect(s.neverSent()).toBe(1000);
    const second = new Conn();
    s.send(second.write);
    const seen = frames(second.text);
    expect(seen).toHaveLength(again.records + 1000);
    expect(seen[0]).toBe(msg(s.delivered));
    expect(seen.at(-1)).toBe(msg(30_999));
    expect(s.neverSent()).toBe(0);
  });

  test("the window is kept at its size, whole chunks at a time", () => {
    const s = new Spool(64 << 20, CHUNK_BYTES);
    const conn = new Conn();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 5000; i++) add(s, msg(round * 5000 + i));
      s.send(conn.write);
      // once more than the window went out: at least the window's bytes are kept, at most
      // one chunk more (and the chunk being filled)
      if (round >= 2) expect(s.bytes).toBeGreaterThanOrEqual(CHUNK_BYTES);
      expect(s.bytes).toBeLessThanOrEqual(3 * CHUNK_BYTES);
    }
    // what the window gave up counts as delivered: all but at most three chunks of records
    expect(s.delivered).toBeGreaterThan(100_000 - (3 * CHUNK_BYTES) / 100);
    expect(s.taken).toBe(100_000);
  });

  test("full: new records are dropped and counted, the window gives way first, memory stays bounded", () => {
    const s = new Spool(4 * CHUNK_BYTES, CHUNK_BYTES);
    const conn = new Conn();
    for (let i = 0; i < 20_000; i++) add(s, msg(i));
    s.send(conn.write);
    conn.gone = true;
    let dropped = 0;
    for (let i = 20_000; i < 100_000; i++) if (!add(s, msg(i))) dropped++;
    expect(dropped).toBeGreaterThan(0);
    expect(s.dropped).toBe(dropped);
    expect(s.bytes).toBeLessThanOrEqual(4 * CHUNK_BYTES);
    expect(s.taken + s.dropped).toBe(100_000);
    // nothing went out after the connection was lost: all that was taken after it is unsent
    expect(s.neverSent()).toBe(s.taken - 20_000);
  });

  test("a record larger than a chunk gets a chunk of its own", () => {
    const s = new Spool(8 * CHUNK_BYTES, CHUNK_BYTES);
    add(s, msg(1));
    add(s, msg(2, CHUNK_BYTES + 10));
    add(s, msg(3));
    const conn = new Conn();
    s.send(conn.write);
    expect(frames(conn.text).map((m) => m.slice(0, 2))).toEqual(["1:", "2:", "3:"]);
  });
});
