/**
 * Exports aggregations the kernel cannot finish itself, from user space: records idle or
 * active for too long (-t), those of processes that ended (files only: their files were
 * closed by exit, not by a syscall we see), those the kernel finished while the ring
 * buffer was full (left in the map marked unsent) and, at shutdown, everything pending.
 * Each map value is a complete record of its kind.
 *
 * The kernel keeps counting into a map value while user space reads it, so user space
 * never writes a value back (what the kernel added between the read and the write would
 * be lost) and takes one out of the map only when done with it, in one step where the
 * kernel allows it (lookup-and-delete, 5.14+). A record printed while its aggregation
 * goes on is remembered ("printed"); what is printed of it later, from the map or from
 * the ring buffer, is the difference: deltas against what was printed.
 */
import type { MapAccess } from "../../ffi/map.ts";
import type { RecordVisitor } from "./ring.ts";
import { AF_UNIX } from "../records/net.ts";
import {
  FileFlags,
  FileKey,
  FsEvent,
  RecFile,
  RecFileEventCountsLen,
  RecHdr,
  RecInode,
  RecSock,
  RecSockDir,
  RecSockDirFlagCountsLen,
  RecSockFlags,
  RecTask,
  RecType,
} from "../records/layout.gen.ts";

/** What the flusher needs to know about one kind of aggregation. */
export interface AggregateKind {
  readonly valueSize: number;
  /** the ring-buffer records of this kind */
  readonly recordType: number;
  /** bytes of the record held in the value */
  size(view: DataView, off: number): number;
  /** whether the record holds anything to report */
  active(view: DataView, off: number): boolean;
  /** whether the value in view holds more than printed (a copy of an earlier value of it) */
  progressed(view: DataView, printed: DataView): boolean;
  /**
   * Whether an idle record without activity is to be dropped: a UNIX socket whose
   * process exited without closing it leaves one behind (no kernel hook ends it).
   */
  abandoned(view: DataView): boolean;
  /**
   * Whether a record due (idle or active too long) is taken out of the map, not only
   * printed: an idle file (later events start a new one), a closed socket whose reset
   * never came. Sockets otherwise stay: their owner and addresses live in the entry.
   */
  ends(view: DataView, idle: boolean): boolean;
  /** whether the kernel finished the record but found the ring buffer full */
  unsent(view: DataView): boolean;
  /** the map key of the record at off (a ring-buffer record), as key bytes */
  key(view: DataView, off: number): Uint8Array;
  /** bytes [0, printedEnd) of a value are what a later delta is taken against */
  readonly printedEnd: number;
  /** turns the record at off into its difference from printed (a copy of an earlier value) */
  subtract(view: DataView, off: number, printed: DataView, printedAtNs: bigint): void;
}

const taskNames = (view: DataView, task: number): number =>
  view.getUint16(task + RecTask.exeLen, true) + view.getUint16(task + RecTask.parentExeLen, true);

const subU32 = (v: DataView, p: DataView, off: number, at: number): void => {
  const a = v.getUint32(at + off, true);
  const b = p.getUint32(at, true);
  v.setUint32(at + off, a > b ? a - b : 0, true);
};

const subU64 = (v: DataView, p: DataView, off: number, at: number): void => {
  const a = v.getBigUint64(at + off, true);
  const b = p.getBigUint64(at, true);
  v.setBigUint64(at + off, a > b ? a - b : 0n, true);
};

export const FILE_KIND: AggregateKind = {
  valueSize: RecFile.SIZE,
  recordType: RecType.REC_TYPE_FILE,
  size: (v, o) =>
    RecFile.tail + taskNames(v, o + RecFile.task) + v.getUint16(o + RecFile.pathLen, true) + v.getUint16(o + RecFile.originLen, true),
  // a record split by -e waits with no events for its next one
  active: (v, o) => v.getUint32(o + RecFile.events, true) > 0,
  progressed: (v, p) => v.getUint32(RecFile.events, true) !== p.getUint32(RecFile.events, true),
  abandoned: () => false,
  ends: (_, idle) => idle,
  unsent: (v) => (v.getUint16(RecFile.flags, true) & FileFlags.FILE_FLAG_UNSENT) !== 0,
  key: (v, o) => {
    const k = new Uint8Array(FileKey.SIZE);
    const kv = new DataView(k.buffer);
    kv.setUint32(FileKey.pid, v.getUint32(o + RecFile.task + RecTask.pid, true), true);
    kv.setUint32(FileKey.dev, v.getUint32(o + RecFile.dev, true), true);
    kv.setBigUint64(FileKey.ino, v.getBigUint64(o + RecFile.ino, true), true);
    return k;
  },
  printedEnd: RecFile.tail,
  subtract: (v, o, p, printedAtNs) => {
    subU32(v, p, o, RecFile.events);
    for (let i = 0; i < RecFileEventCountsLen; i++) subU32(v, p, o, RecFile.eventCounts + 4 * i);
    // the changes since the state printed, over the time since that print
    v.setBigUint64(o + RecFile.sizeFirst, p.getBigUint64(RecFile.inode + RecInode.size, true), true);
    v.setBigUint64(o + RecFile.mtimeFirstNs, p.getBigUint64(RecFile.inode + RecInode.mtimeNs, true), true);
    v.setBigUint64(o + RecFile.tsFirstNs, printedAtNs, true);
  },
};

const DIR_COUNTERS_U64 = [RecSockDir.packets, RecSockDir.dataPackets, RecSockDir.bytes, RecSockDir.ttlSum];
const DIR_COUNTERS_U32 = [RecSockDir.ttlPackets, RecSockDir.frags];
const SOCK_COUNTERS_U64 = [RecSock.bytesAcked, RecSock.bytesRetrans];
const SOCK_COUNTERS_U32 = [RecSock.retrans, RecSock.dsackDups, RecSock.reorder, RecSock.drops];

export const SOCK_KIND: AggregateKind = {
  valueSize: RecSock.SIZE,
  recordType: RecType.REC_TYPE_SOCK,
  size: (v, o) => RecSock.tail + taskNames(v, o + RecSock.task),
  active: (v, o) =>
    v.getBigUint64(o + RecSock.tx + RecSockDir.packets, true) + v.getBigUint64(o + RecSock.rx + RecSockDir.packets, true) > 0n,
  progressed: (v, p) =>
    v.getBigUint64(RecSock.tx + RecSockDir.packets, true) !== p.getBigUint64(RecSock.tx + RecSockDir.packets, true) ||
    v.getBigUint64(RecSock.rx + RecSockDir.packets, true) !== p.getBigUint64(RecSock.rx + RecSockDir.packets, true),
  abandoned: (v) => v.getUint8(RecSock.family) === AF_UNIX,
  // a closed socket whose record waited for its reset (which never came) is done
  ends: (v) => (v.getUint8(RecSock.flags) & RecSockFlags.SOCK_FLAG_CLOSED) !== 0,
  unsent: (v) => (v.getUint8(RecSock.flags) & RecSockFlags.SOCK_FLAG_UNSENT) !== 0,
  key: (v, o) => {
    const k = new Uint8Array(8);
    new DataView(k.buffer).setBigUint64(0, v.getBigUint64(o + RecSock.key, true), true);
    return k;
  },
  printedEnd: RecSock.unixPath,
  subtract: (v, o, p, printedAtNs) => {
    for (const dir of [RecSock.tx, RecSock.rx]) {
      for (const at of DIR_COUNTERS_U64) subU64(v, p, o, dir + at);
      for (const at of DIR_COUNTERS_U32) subU32(v, p, o, dir + at);
      for (let i = 0; i < RecSockDirFlagCountsLen; i++) subU32(v, p, o, dir + RecSockDir.flagCounts + 4 * i);
      // the packets since the print: their first came after it
      if (v.getBigUint64(o + dir + RecSockDir.packets, true) > 0n) {
        const first = v.getBigUint64(o + dir + RecSockDir.tsFirstNs, true);
        if (first < printedAtNs) v.setBigUint64(o + dir + RecSockDir.tsFirstNs, printedAtNs, true);
      }
    }
    for (const at of SOCK_COUNTERS_U64) subU64(v, p, o, at);
    for (const at of SOCK_COUNTERS_U32) subU32(v, p, o, at);
  },
};

const NEVER = 1n << 63n;
const ENOENT = 2;

/** What was printed of an aggregation that goes on: its value then, and when. */
interface Printed {
  readonly value: DataView;
  readonly tsFirstNs: bigint;
  readonly atNs: bigint;
  /** scans since its entry was last seen in the map */
  unseen: number;
}

/** a printed record whose entry the scans no longer find is forgotten after this many */
const UNSEEN_SCANS = 2;

const keyId = (key: Uint8Array): string => String.fromCharCode(...key);

/** What one timeout scan did with one record, for -D q. */
export type ExpiryDecision = "printed" | "printed, ended" | "nothing new" | "ended" | "unsent, printed" | "dropped";

/** -D q: told each decision of the timeout scans (kflowd's expiry-queue debugging). */
export type ExpiryDebug = (what: string, key: Uint8Array, decision: ExpiryDecision, idleNs: bigint, ageNs: bigint) => void;

/** A process that ended: its start (tells a reused PID apart) and when it ended. */
export interface ProcessEnd {
  readonly startNs: bigint;
  readonly tsNs: bigint;
}

export class MapFlusher {
  protected readonly value: Uint8Array;
  protected readonly view: DataView;
  private readonly printed = new Map<string, Printed>();
  /** -D q */
  debug: ExpiryDebug | undefined;
  /** lookup-and-delete works on this kernel's hash maps (5.14+), else undefined until tried */
  private atomicTake: boolean | undefined;

  constructor(
    protected readonly map: MapAccess,
    protected readonly kind: AggregateKind,
  ) {
    this.value = new Uint8Array(kind.valueSize);
    this.view = new DataView(this.value.buffer);
  }

  /**
   * Exports the records the kernel could not hand over (ring buffer full) and, as they
   * stand, those idle for idleNs or active for activeNs (CLOCK_MONOTONIC nowNs), so
   * that long-lived files and connections are reported.
   */
  flushStale(nowNs: bigint, idleNs: bigint, activeNs: bigint, visit: RecordVisitor): number {
    let n = 0;
    for (const p of this.printed.values()) p.unseen++;
    for (const key of this.map.keys()) {
      if (!this.map.lookup(key, this.value)) continue;
      const id = this.idOfValue();
      const first = this.view.getBigUint64(RecFile.tsFirstNs, true);
      const printed = this.printedOf(id, first);
      if (printed) printed.unseen = 0;
      const last = this.view.getBigUint64(RecFile.hdr + RecHdr.tsNs, true);
      const tell = (decision: ExpiryDecision, printedNow: number): number => {
        this.debug?.(this.kind.recordType === RecType.REC_TYPE_FILE ? "file" : "socket", key, decision, nowNs - last, nowNs - first);
        return printedNow;
      };
      if (this.kind.unsent(this.view)) {
        if (this.take(key)) n += tell("unsent, printed", this.emitTaken(id, visit));
        continue;
      }
      const idle = nowNs - last >= idleNs;
      // anything not printed yet
      const fresh = printed ? this.kind.progressed(this.view, printed.value) : this.kind.active(this.view, 0);
      if (!fresh) {
        if (idle && this.kind.abandoned(this.view)) {
          this.map.delete(key);
          this.printed.delete(id);
          tell("dropped", 0);
        } else if (idle && this.kind.ends(this.view, true) && this.take(key)) {
          // (what came in the meantime, if anything, is printed)
          const k = this.emitTaken(id, visit);
          n += tell(k ? "printed, ended" : "ended", k);
        }
        continue;
      }
      if (!idle && nowNs - (printed?.atNs ?? first) < activeNs) continue;
      if (this.kind.ends(this.view, idle)) {
        if (this.take(key)) {
          const k = this.emitTaken(id, visit);
          n += tell(k ? "printed, ended" : "ended", k);
        }
        continue;
      }
      const k = this.emitGoingOn(id, first, nowNs, visit);
      n += tell(k ? "printed" : "nothing new", k);
    }
    for (const [id, p] of this.printed) if (p.unseen > UNSEEN_SCANS) this.printed.delete(id);
    return n;
  }

  /** Exports only the records the kernel finished but found the ring buffer full for. */
  flushUnsent(visit: RecordVisitor): number {
    // a time before every record: nothing counts as idle or active for too long
    return this.flushStale(0n, NEVER, NEVER, visit);
  }

  /** Exports the record of one key now (its message slots are full), if it is there. */
  flushKey(key: bigint, nowNs: bigint, visit: RecordVisitor): number {
    const k = new Uint8Array(8);
    new DataView(k.buffer).setBigUint64(0, key, true);
    if (!this.map.lookup(k, this.value) || !this.kind.active(this.view, 0)) return 0;
    return this.emitGoingOn(keyId(k), this.view.getBigUint64(RecFile.tsFirstNs, true), nowNs, visit, true);
  }

  /**
   * Exports every record that holds something and empties the map (at shutdown), while
   * more() says so: true when the map is empty, false when more() stopped it first.
   */
  flushAll(visit: RecordVisitor, more: () => boolean = () => true): boolean {
    for (const key of this.map.keys()) {
      if (!more()) return false;
      if (this.take(key)) this.emitTaken(this.idOfValue(), visit);
    }
    return true;
  }

  /**
   * A record the kernel handed over through the ring buffer (in bytes at off): if part of
   * its aggregation was printed from the map before, it becomes the rest, in place.
   * Returns whether anything is left to print.
   */
  settle(view: DataView, off: number, size: number): boolean {
    if (this.printed.size === 0 || size < this.kind.printedEnd) return true;
    if (view.getUint16(off + RecHdr.type, true) !== this.kind.recordType) return true;
    const id = keyId(this.kind.key(view, off));
    const printed = this.printedOf(id, view.getBigUint64(off + RecFile.tsFirstNs, true));
    if (!printed) return true;
    // the kernel ended the aggregation (or split it, -e): nothing of it is printed any more
    this.printed.delete(id);
    this.kind.subtract(view, off, printed.value, printed.atNs);
    return this.kind.active(view, off);
  }

  /** What was printed of the aggregation id, if it is the one that began at tsFirstNs. */
  private printedOf(id: string, tsFirstNs: bigint): Printed | undefined {
    const p = this.printed.get(id);
    return p && p.tsFirstNs === tsFirstNs ? p : undefined;
  }

  /**
   * Takes the record of key out of the map into this.value: in one step where the
   * kernel has lookup-and-delete for hash maps (5.14+), else by a lookup right before
   * the delete. False if it is gone.
   */
  protected take(key: Uint8Array): boolean {
    if (this.atomicTake !== false) {
      const err = this.map.lookupAndDelete(key, this.value);
      if (err === 0) {
        this.atomicTake = true;
        return true;
      }
      if (err === -ENOENT) return false;
      // EINVAL or ENOTSUPP: a kernel before 5.14
      this.atomicTake = false;
    }
    return this.map.lookup(key, this.value) && this.map.delete(key);
  }

  /**
   * The aggregation id of the record in this.value: its key as the record tells it, which is
   * its map key unless the kernel parked it under another (a file record that could not be
   * sent when a new file reused its inode number), and the key settle() knows it by.
   */
  protected idOfValue(): string {
    return keyId(this.kind.key(this.view, 0));
  }

  /** Prints the record taken out of the map (this.value), less what was printed of it. */
  protected emitTaken(id: string, visit: RecordVisitor): number {
    const printed = this.printedOf(id, this.view.getBigUint64(RecFile.tsFirstNs, true));
    // (what was printed of another aggregation under the same id, a parked record's
    // successor's, stays; one of an aggregation gone is forgotten after UNSEEN_SCANS)
    if (printed) {
      this.printed.delete(id);
      this.kind.subtract(this.view, 0, printed.value, printed.atNs);
    }
    return this.kind.active(this.view, 0) ? this.emit(visit) : 0;
  }

  /**
   * Prints the record in this.value, which stays in the map and goes on, less what was
   * printed of it, and remembers it as printed. always: print even without new activity
   * (its application messages are what is printed).
   */
  private emitGoingOn(id: string, tsFirstNs: bigint, nowNs: bigint, visit: RecordVisitor, always = false): number {
    const printed = this.printedOf(id, tsFirstNs);
    const copy = new DataView(this.value.slice(0, this.kind.printedEnd).buffer);
    this.printed.set(id, { value: copy, tsFirstNs, atNs: nowNs, unseen: 0 });
    if (printed) this.kind.subtract(this.view, 0, printed.value, printed.atNs);
    if (!always && !this.kind.active(this.view, 0)) return 0;
    return this.emit(visit);
  }

  protected emit(visit: RecordVisitor): number {
    const size = this.kind.size(this.view, 0);
    if (size > this.kind.valueSize) return 0;
    this.view.setUint32(RecFile.hdr + RecHdr.size, size, true);
    visit(this.view, this.value, 0, size);
    return 1;
  }
}

/** File records also end with their process. */
export class FileFlusher extends MapFlusher {
  constructor(files: MapAccess) {
    super(files, FILE_KIND);
  }

  /** Exports the aggregations of the processes in exits, with a close event for open files. */
  flushExited(exits: ReadonlyMap<number, ProcessEnd>, visit: RecordVisitor): number {
    if (exits.size === 0) return 0;
    let n = 0;
    for (const key of this.map.keys()) {
      const pid = new DataView(key.buffer).getUint32(FileKey.pid, true);
      const exit = exits.get(pid);
      if (!exit || !this.map.lookup(key, this.value)) continue;
      // a new process may reuse the pid before we get here: its files are not closed
      if (this.view.getBigUint64(RecFile.task + RecTask.startNs, true) !== exit.startNs) continue;
      // the process is gone: nothing adds to the record any more
      if (!this.take(key)) continue;
      // an unsent record was finished by its close already (the ring buffer was full)
      if (!this.kind.unsent(this.view)) this.addClose(exit.tsNs);
      n += this.emitTaken(this.idOfValue(), visit);
    }
    return n;
  }

  private addClose(tsNs: bigint): void {
    const flags = this.view.getUint16(RecFile.flags, true);
    this.view.setBigUint64(RecFile.hdr + RecHdr.tsNs, tsNs, true);
    // a file the process only changed by path (chmod, ...) was never open: no close
    if (!(flags & FileFlags.FILE_FLAG_OPENED)) return;
    const ev = flags & FileFlags.FILE_FLAG_WRITABLE ? FsEvent.FS_CLOSE_WRITE : FsEvent.FS_CLOSE_NOWRITE;
    const slot = RecFile.eventCounts + 4 * ev;
    this.view.setUint32(slot, this.view.getUint32(slot, true) + 1, true);
    this.view.setUint32(RecFile.events, this.view.getUint32(RecFile.events, true) + 1, true);
  }
}
