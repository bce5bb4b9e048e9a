import { text, u64, u64Big, u64BigOr } from "./bytes.ts";
import { FileFlags, FsEvent, RecFile, RecHdr, RecInode } from "./layout.gen.ts";
import { decodeTask, taskTailLength, type TaskIdentity } from "./task.ts";

/** One file aggregation: what a process did to one file between its first event and export. */
export interface FileRecord {
  readonly task: TaskIdentity;
  /** CLOCK_MONOTONIC of the first and the last event, ns */
  readonly tsFirstNs: bigint;
  readonly tsNs: bigint;
  readonly ino: bigint;
  /** kernel dev_t: major << 20 | minor */
  readonly dev: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly events: number;
  /** count per event, indexed by FsEvent */
  readonly eventCounts: readonly number[];
  readonly size: number;
  readonly sizeFirst: number;
  /** inode times, ns since the epoch */
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly mtimeFirstNs: bigint;
  /** absolute path of the file ("." and ".." resolved) */
  readonly path: string;
  readonly pathTruncated: boolean;
  /** the old name of a renamed file */
  readonly origin: string | undefined;
  /** false for a path operation the kernel could not map to an inode: only path and events are known */
  readonly inodeKnown: boolean;
  /** finished while the ring buffer was full: it kept aggregating, so it may span several closes */
  readonly deferred: boolean;
}

/** Resolves ".", ".." and repeated slashes of an absolute path, lexically. */
export function normalizePath(path: string): string {
  if (!path.includes("/.") && !path.includes("//")) return path;
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}

/** The last component of the end of a path (what a rename's old name bytes hold). */
function lastName(tail: string): string {
  const trimmed = tail.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** event counts decoded lately: most records repeat a few patterns (created, written, closed; deleted) */
const RECENT_COUNTS = 8;
const recentCounts: number[][] = [];
let recentCountsNext = 0;

/** The per-event counts at off: one of the arrays decoded lately if it has them (they are never changed). */
function eventCounts(view: DataView, off: number): readonly number[] {
  for (let k = 0; k < recentCounts.length; k++) {
    const c = recentCounts[k]!;
    let i = 0;
    while (i < FsEvent.FS_EVENT_COUNT && c[i] === view.getUint32(off + 4 * i, true)) i++;
    if (i === FsEvent.FS_EVENT_COUNT) return c;
  }
  const counts: number[] = new Array(FsEvent.FS_EVENT_COUNT);
  for (let i = 0; i < FsEvent.FS_EVENT_COUNT; i++) counts[i] = view.getUint32(off + 4 * i, true);
  recentCounts[recentCountsNext] = counts;
  recentCountsNext = (recentCountsNext + 1) % RECENT_COUNTS;
  return counts;
}

/**
 * Decodes the struct rec_file of size bytes at off, or returns undefined when the
 * sizes inside do not fit (a corrupt or foreign record).
 */
export function decodeFile(view: DataView, bytes: Uint8Array, off: number, size: number): FileRecord | undefined {
  if (size < RecFile.tail) return undefined;
  const tail = off + RecFile.tail;
  const names = taskTailLength(view, off + RecFile.task);
  const pathLen = view.getUint16(off + RecFile.pathLen, true);
  const originLen = view.getUint16(off + RecFile.originLen, true);
  if (RecFile.tail + names + pathLen + originLen > size) return undefined;
  const flags = view.getUint16(off + RecFile.flags, true);
  const inode = off + RecFile.inode;
  const mtimeNs = u64Big(view, inode + RecInode.mtimeNs);
  const mtimeFirstNs = u64BigOr(view, off + RecFile.mtimeFirstNs, inode + RecInode.mtimeNs, mtimeNs);
  return {
    task: decodeTask(view, bytes, off + RecFile.task, tail),
    tsFirstNs: u64Big(view, off + RecFile.tsFirstNs),
    tsNs: u64Big(view, off + RecFile.hdr + RecHdr.tsNs),
    ino: u64Big(view, off + RecFile.ino),
    dev: view.getUint32(off + RecFile.dev, true),
    mode: view.getUint32(inode + RecInode.mode, true),
    nlink: view.getUint32(inode + RecInode.nlink, true),
    uid: view.getUint32(inode + RecInode.uid, true),
    gid: view.getUint32(inode + RecInode.gid, true),
    events: view.getUint32(off + RecFile.events, true),
    eventCounts: eventCounts(view, off + RecFile.eventCounts),
    size: u64(view, inode + RecInode.size),
    sizeFirst: u64(view, off + RecFile.sizeFirst),
    // (a created or deleted file's times are often all the same)
    atimeNs: u64BigOr(view, inode + RecInode.atimeNs, off + RecFile.mtimeFirstNs, mtimeFirstNs),
    mtimeNs,
    ctimeNs: u64BigOr(view, inode + RecInode.ctimeNs, inode + RecInode.mtimeNs, mtimeNs),
    mtimeFirstNs,
    path: normalizePath(text(bytes, tail + names, pathLen)),
    pathTruncated: (flags & FileFlags.FILE_FLAG_PATH_TRUNCATED) !== 0,
    origin: originLen > 0 ? lastName(text(bytes, tail + names + pathLen, originLen)) : undefined,
    inodeKnown: (flags & FileFlags.FILE_FLAG_NO_INODE) === 0,
    deferred: (flags & FileFlags.FILE_FLAG_UNSENT) !== 0,
  };
}
