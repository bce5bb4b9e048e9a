/**
 * Exports aggregations the kernel cannot finish itself, from user space: records idle or
 * active for too long (-t), those of processes that ended (files only: their files were
 * closed by exit, not by a syscall we see), those the kernel finished while the ring
 * buffer was full (left in the map marked unsent) and, at shutdown, everything pending.
 * Each map value is a complete record of its kind.
 */
import type { MapAccess } from "../../ffi/map.ts";
import type { RecordVisitor } from "./ring.ts";
import { AF_UNIX } from "../records/net.ts";
import {
  FileFlags,
  FileKey,
  FsEvent,
  RecFile,
  RecHdr,
  RecSock,
  RecSockDir,
  RecSockFlags,
  RecTask,
} from "../records/layout.gen.ts";

/** What the flusher needs to know about one kind of aggregation. */
export interface AggregateKind {
  readonly valueSize: number;
  /** bytes of the record held in the value */
  size(view: DataView): number;
  /** whether the record holds anything to report */
  active(view: DataView): boolean;
  /**
   * Whether an idle record without activity is to be dropped: a UNIX socket whose
   * process exited without closing it leaves one behind (no kernel hook ends it).
   */
  abandoned(view: DataView): boolean;
  /**
   * After a timeout export: clears the counters so the entry lives on (sockets keep
   * their owner and addresses), or returns false to delete it (files).
   */
  restart(view: DataView, nowNs: bigint): boolean;
  /** whether the kernel finished the record but found the ring buffer full */
  unsent(view: DataView): boolean;
}

const taskNames = (view: DataView, task: number): number =>
  view.getUint16(task + RecTask.exeLen, true) + view.getUint16(task + RecTask.parentExeLen, true);

export const FILE_KIND: AggregateKind = {
  valueSize: RecFile.SIZE,
  size: (v) =>
    RecFile.tail + taskNames(v, RecFile.task) + v.getUint16(RecFile.pathLen, true) + v.getUint16(RecFile.originLen, true),
  active: () => true,
  abandoned: () => false,
  restart: () => false,
  unsent: (v) => (v.getUint16(RecFile.flags, true) & FileFlags.FILE_FLAG_UNSENT) !== 0,
};

export const SOCK_KIND: AggregateKind = {
  valueSize: RecSock.SIZE,
  size: (v) => RecSock.tail + taskNames(v, RecSock.task),
  active: (v) =>
    v.getBigUint64(RecSock.tx + RecSockDir.packets, true) + v.getBigUint64(RecSock.rx + RecSockDir.packets, true) > 0n,
  abandoned: (v) => v.getUint8(RecSock.family) === AF_UNIX,
  restart: (v, nowNs) => {
    // a closed socket whose record waited for its reset (which never came) is done
    if (v.getUint8(RecSock.flags) & RecSockFlags.SOCK_FLAG_CLOSED) return false;
    for (const dir of [RecSock.tx, RecSock.rx]) {
      for (let off = dir; off < dir + RecSockDir.SIZE; off += 4) v.setUint32(off, 0, true);
    }
    v.setBigUint64(RecSock.hdr + RecHdr.tsNs, nowNs, true);
    return true;
  },
  unsent: (v) => (v.getUint8(RecSock.flags) & RecSockFlags.SOCK_FLAG_UNSENT) !== 0,
};

const NEVER = 1n << 63n;

/** A process that ended: its start (tells a reused PID apart) and when it ended. */
export interface ProcessEnd {
  readonly startNs: bigint;
  readonly tsNs: bigint;
}

export class MapFlusher {
  protected readonly value: Uint8Array;
  protected readonly view: DataView;

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
    for (const key of this.map.keys()) {
      if (!this.map.lookup(key, this.value)) continue;
      if (this.kind.unsent(this.view)) {
        if (this.map.delete(key)) n += this.emit(visit);
        continue;
      }
      const last = this.view.getBigUint64(RecFile.hdr + RecHdr.tsNs, true);
      const first = this.view.getBigUint64(RecFile.tsFirstNs, true);
      if (!this.kind.active(this.view)) {
        if (nowNs - last >= idleNs && this.kind.abandoned(this.view)) this.map.delete(key);
        continue;
      }
      if (nowNs - last < idleNs && nowNs - first < activeNs) continue;
      n += this.emit(visit);
      if (this.kind.restart(this.view, nowNs)) this.map.update(key, this.value);
      else this.map.delete(key);
    }
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
    if (!this.map.lookup(k, this.value) || !this.kind.active(this.view)) return 0;
    const n = this.emit(visit);
    if (this.kind.restart(this.view, nowNs)) this.map.update(k, this.value);
    else this.map.delete(k);
    return n;
  }

  /** Exports every record that holds something, and empties the map (at shutdown). */
  flushAll(visit: RecordVisitor): number {
    let n = 0;
    for (const key of this.map.keys()) {
      if (!this.map.lookup(key, this.value) || !this.map.delete(key)) continue;
      if (this.kind.active(this.view)) n += this.emit(visit);
    }
    return n;
  }

  protected emit(visit: RecordVisitor): number {
    const size = this.kind.size(this.view);
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
      // an unsent record was finished by its close already (the ring buffer was full)
      if (!this.kind.unsent(this.view)) this.addClose(exit.tsNs);
      if (this.map.delete(key)) n += this.emit(visit);
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
