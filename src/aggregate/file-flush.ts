/**
 * Exports file aggregations the kernel cannot finish itself: those of processes that
 * ended (their files were closed by exit, not by a syscall we see) and, at shutdown,
 * everything still open. Each map value is a complete struct rec_file.
 */
import type { MapAccess } from "../../ffi/map.ts";
import type { RecordVisitor } from "../ingest/ring.ts";
import type { ExitNotice } from "../records/exit.ts";
import { FileFlags, FileKey, FsEvent, RecFile, RecHdr, RecTask } from "../records/layout.gen.ts";

export class FileFlusher {
  private readonly value = new Uint8Array(RecFile.SIZE);
  private readonly view = new DataView(this.value.buffer);

  constructor(private readonly files: MapAccess) {}

  /** Exports the aggregations of the processes in exits, with a close event for open files. */
  flushExited(exits: ReadonlyMap<number, ExitNotice>, visit: RecordVisitor): number {
    if (exits.size === 0) return 0;
    let n = 0;
    for (const key of this.files.keys()) {
      const pid = new DataView(key.buffer).getUint32(FileKey.pid, true);
      const exit = exits.get(pid);
      if (!exit || !this.files.lookup(key, this.value)) continue;
      // a new process may reuse the pid before we get here: its files are not closed
      if (this.view.getBigUint64(RecFile.task + RecTask.startNs, true) !== exit.startNs) continue;
      this.addClose(exit.tsNs);
      if (this.files.delete(key)) n += this.emit(visit);
    }
    return n;
  }

  /**
   * Exports, as they stand, the aggregations idle for idleNs or active for activeNs
   * (CLOCK_MONOTONIC nowNs): files held open for long are reported all the same.
   */
  flushStale(nowNs: bigint, idleNs: bigint, activeNs: bigint, visit: RecordVisitor): number {
    let n = 0;
    for (const key of this.files.keys()) {
      if (!this.files.lookup(key, this.value)) continue;
      const last = this.view.getBigUint64(RecFile.hdr + RecHdr.tsNs, true);
      const first = this.view.getBigUint64(RecFile.tsFirstNs, true);
      if (nowNs - last < idleNs && nowNs - first < activeNs) continue;
      if (this.files.delete(key)) n += this.emit(visit);
    }
    return n;
  }

  /** Exports every aggregation as it stands (at shutdown). */
  flushAll(visit: RecordVisitor): number {
    let n = 0;
    for (const key of this.files.keys()) {
      if (this.files.lookup(key, this.value) && this.files.delete(key)) n += this.emit(visit);
    }
    return n;
  }

  private addClose(tsNs: bigint): void {
    const flags = this.view.getUint16(RecFile.flags, true);
    this.view.setBigUint64(RecFile.hdr + RecHdr.tsNs, tsNs, true);
    // a file the process only changed by path (chmod, ...) was never open: no close
    if (!(flags & FileFlags.FILE_FLAG_OPENED)) return;
    const writable = flags & FileFlags.FILE_FLAG_WRITABLE;
    const ev = writable ? FsEvent.FS_CLOSE_WRITE : FsEvent.FS_CLOSE_NOWRITE;
    const slot = RecFile.eventCounts + 4 * ev;
    this.view.setUint32(slot, this.view.getUint32(slot, true) + 1, true);
    this.view.setUint32(RecFile.events, this.view.getUint32(RecFile.events, true) + 1, true);
  }

  private emit(visit: RecordVisitor): number {
    const size =
      RecFile.tail +
      this.view.getUint16(RecFile.task + RecTask.exeLen, true) +
      this.view.getUint16(RecFile.task + RecTask.parentExeLen, true) +
      this.view.getUint16(RecFile.pathLen, true);
    if (size > RecFile.SIZE) return 0;
    this.view.setUint32(RecFile.hdr + RecHdr.size, size, true);
    visit(this.view, this.value, 0, size);
    return 1;
  }
}
