// The timeout scans over an aggregation map, on a map kept in memory: what they print of
// records that go on, and of a record the kernel parked (bpf/fs.bpf.h file_end()).
import { describe, expect, test } from "bun:test";
import type { MapAccess } from "../../../ffi/map.ts";
import { FileFlusher } from "../../../src/ingest/expiry.ts";
import { FileFlags, FileKey, RecFile, RecHdr, RecTask, RecType } from "../../../src/records/layout.gen.ts";

/** The subset of MapAccess the flusher uses, over a Map of hex keys. */
class MemoryMap {
  readonly entries = new Map<string, { key: Uint8Array; value: Uint8Array }>();

  put(key: Uint8Array, value: Uint8Array): void {
    this.entries.set(Buffer.from(key).toString("hex"), { key, value: value.slice() });
  }
  keys(): Uint8Array[] {
    return [...this.entries.values()].map((e) => e.key.slice());
  }
  lookup(key: Uint8Array, value: Uint8Array): boolean {
    const e = this.entries.get(Buffer.from(key).toString("hex"));
    if (e) value.set(e.value);
    return e !== undefined;
  }
  delete(key: Uint8Array): boolean {
    return this.entries.delete(Buffer.from(key).toString("hex"));
  }
  lookupAndDelete(key: Uint8Array, value: Uint8Array): number {
    return this.lookup(key, value) && this.delete(key) ? 0 : -2;
  }
}

const PID = 7;
const DEV = 1;
const INO = 42n;

function fileKey(pid: number): Uint8Array {
  const k = new Uint8Array(FileKey.SIZE);
  const v = new DataView(k.buffer);
  v.setUint32(FileKey.pid, pid, true);
  v.setUint32(FileKey.dev, DEV, true);
  v.setBigUint64(FileKey.ino, INO, true);
  return k;
}

/** A file record of PID's (DEV, INO) with `events` events, begun at firstNs. */
function fileValue(events: number, firstNs: bigint, lastNs: bigint, flags = 0): Uint8Array {
  const b = new Uint8Array(RecFile.SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(RecFile.hdr + RecHdr.type, RecType.REC_TYPE_FILE, true);
  v.setBigUint64(RecFile.hdr + RecHdr.tsNs, lastNs, true);
  v.setUint32(RecFile.task + RecTask.pid, PID, true);
  v.setUint32(RecFile.dev, DEV, true);
  v.setBigUint64(RecFile.ino, INO, true);
  v.setBigUint64(RecFile.tsFirstNs, firstNs, true);
  v.setUint32(RecFile.events, events, true);
  v.setUint16(RecFile.flags, flags, true);
  return b;
}

const SECOND = 1_000_000_000n;
const NEVER = 1n << 62n;

describe("timeout scans", () => {
  test("a parked record is printed whole; what was printed of its successor under the same key stays subtracted", () => {
    const map = new MemoryMap();
    const flusher = new FileFlusher(map as unknown as MapAccess);
    const printed: number[] = [];
    const visit = (view: DataView, _b: Uint8Array, off: number) => printed.push(view.getUint32(off + RecFile.events, true));
    // the successor: a long-lived file of the same process on the reused inode, printed as it goes on
    map.put(fileKey(PID), fileValue(3, 10n * SECOND, 20n * SECOND));
    expect(flusher.flushStale(21n * SECOND, NEVER, 5n * SECOND, visit)).toBe(1);
    // the kernel parks the earlier file's record (unsent) under a key no process has
    map.put(fileKey(0x80000000 | 12345), fileValue(2, 5n * SECOND, 6n * SECOND, FileFlags.FILE_FLAG_UNSENT));
    expect(flusher.flushUnsent(visit)).toBe(1);
    // the successor goes on: 5 events now, 2 of them new
    map.put(fileKey(PID), fileValue(5, 10n * SECOND, 30n * SECOND));
    expect(flusher.flushStale(31n * SECOND, NEVER, 5n * SECOND, visit)).toBe(1);
    expect(printed).toEqual([3, 2, 2]);
    expect(map.entries.size).toBe(1);
  });
});
