/**
 * The kernel side as the pipeline sees it: decoded records, from the ring buffer and
 * from the aggregation maps (expiry), and the kernel's counters. BpfFeed is the real one;
 * the pipeline's tests use a fake.
 */
import type { FileFlusher, MapFlusher, ProcessEnd } from "../ingest/expiry.ts";
import type { RecordVisitor, RingReader } from "../ingest/ring.ts";
import type { KernelStats } from "../ingest/stats.ts";
import { type AppMessage, decodeApp } from "./app.ts";
import { decodeExit, type ExitNotice } from "./exit.ts";
import { decodeFile, type FileRecord } from "./file.ts";
import { recordType } from "./header.ts";
import { RecType } from "./layout.gen.ts";
import { decodeSock, type SockRecord } from "./sock.ts";

/** Where decoded records go. */
export interface RecordHandler {
  file(rec: FileRecord): void;
  sock(rec: SockRecord): void;
  app(msg: AppMessage): void;
  exit(notice: ExitNotice): void;
  /** a record whose sizes do not fit its type, or of no known type */
  malformed(): void;
}

export interface KernelFeed {
  /** Records in the ring buffer, batch after batch while keepGoing() says so. */
  drain(to: RecordHandler, keepGoing: () => boolean): void;
  /** the last drain stopped with records left in the ring buffer */
  readonly stoppedEarly: boolean;
  /** bytes in the ring buffer when the last drain began */
  readonly fillAtDrain: number;
  /** bytes in the ring buffer now */
  ringFill(): number;
  /** The files of processes that ended (the kernel saw no close of them). */
  flushExited(exits: ReadonlyMap<number, ProcessEnd>, to: RecordHandler): void;
  /** Records idle for idleNs or active for activeNs, and those the kernel could not send. */
  flushStale(nowNs: bigint, idleNs: bigint, activeNs: bigint, to: RecordHandler): void;
  /** Only the records the kernel finished while the ring buffer was full. */
  flushUnsent(to: RecordHandler): void;
  /** The record of socket key now (its message slots are full). */
  flushSocket(key: bigint, nowNs: bigint, to: RecordHandler): void;
  /**
   * Everything still in the maps (at stop), while more() says so; true when the maps are
   * empty, false when more() stopped it first (call again to go on).
   */
  flushAll(to: RecordHandler, more?: () => boolean): boolean;
  /** The kernel's counters, and records the agent could not copy out of the ring. */
  stats(): KernelStats & { readonly uncopied: number };
  /** runs of the programs the kernel skipped (their events lost), by program; reads files: not per batch */
  skippedRuns(): ReadonlyMap<string, number>;
  /** No new events from here on; what is in the ring and maps stays readable. */
  detach(): void;
  close(): void;
}

/** The kernel object's side of BpfFeed. */
export interface BpfParts {
  readonly ring: RingReader;
  readonly files: FileFlusher;
  readonly socks: MapFlusher;
  readonly stats: () => KernelStats;
  readonly skippedRuns: () => ReadonlyMap<string, number>;
  readonly object: { detach(): void; close(): void };
}

export class BpfFeed implements KernelFeed {
  private to: RecordHandler | undefined;
  /** made once: the ring and the maps call it per record */
  private readonly visit: RecordVisitor = (view, bytes, off, size) => {
    const to = this.to!;
    switch (recordType(view, off, size)) {
      case RecType.REC_TYPE_FILE: {
        const rec = decodeFile(view, bytes, off, size);
        return rec ? to.file(rec) : to.malformed();
      }
      case RecType.REC_TYPE_SOCK: {
        const rec = decodeSock(view, bytes, off, size);
        return rec ? to.sock(rec) : to.malformed();
      }
      case RecType.REC_TYPE_APP: {
        const msg = decodeApp(view, bytes, off, size);
        return msg ? to.app(msg) : to.malformed();
      }
      case RecType.REC_TYPE_EXIT: {
        const exit = decodeExit(view, off, size);
        return exit ? to.exit(exit) : to.malformed();
      }
      default:
        return to.malformed();
    }
  };

  /** A ring-buffer record, less what the map expiry printed of its aggregation already. */
  private readonly visitRing: RecordVisitor = (view, bytes, off, size) => {
    if (this.parts.files.settle(view, off, size) && this.parts.socks.settle(view, off, size)) this.visit(view, bytes, off, size);
  };

  constructor(private readonly parts: BpfParts) {}

  get stoppedEarly(): boolean {
    return this.parts.ring.stoppedEarly;
  }

  get fillAtDrain(): number {
    return this.parts.ring.fillAtDrain;
  }

  ringFill(): number {
    return this.parts.ring.fill();
  }

  drain(to: RecordHandler, keepGoing: () => boolean): void {
    this.to = to;
    this.parts.ring.drain(this.visitRing, keepGoing);
  }

  flushExited(exits: ReadonlyMap<number, ProcessEnd>, to: RecordHandler): void {
    this.to = to;
    this.parts.files.flushExited(exits, this.visit);
  }

  flushStale(nowNs: bigint, idleNs: bigint, activeNs: bigint, to: RecordHandler): void {
    this.to = to;
    this.parts.files.flushStale(nowNs, idleNs, activeNs, this.visit);
    this.parts.socks.flushStale(nowNs, idleNs, activeNs, this.visit);
  }

  flushUnsent(to: RecordHandler): void {
    this.to = to;
    this.parts.files.flushUnsent(this.visit);
    this.parts.socks.flushUnsent(this.visit);
  }

  flushSocket(key: bigint, nowNs: bigint, to: RecordHandler): void {
    this.to = to;
    this.parts.socks.flushKey(key, nowNs, this.visit);
  }

  flushAll(to: RecordHandler, more?: () => boolean): boolean {
    this.to = to;
    return this.parts.files.flushAll(this.visit, more) && this.parts.socks.flushAll(this.visit, more);
  }

  stats(): KernelStats & { readonly uncopied: number } {
    return { ...this.parts.stats(), uncopied: this.parts.ring.lost };
  }

  skippedRuns(): ReadonlyMap<string, number> {
    return this.parts.skippedRuns();
  }

  detach(): void {
    this.parts.object.detach();
  }

  close(): void {
    this.parts.ring.close();
    this.parts.object.close();
  }
}
