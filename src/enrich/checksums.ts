/**
 * MD5 and SHA256 of the executable files that file records name (-c: FileMD5, FileSHA256),
 * cached per file version (dev, inode, size, mtime) so each version is hashed once.
 *
 * The agent runs as root and the paths belong to whoever wrote the files, so a path is only
 * trusted to lead to an inode, never to be the record's file: it is opened without following
 * a final symlink, without blocking (FIFOs, leases) and without becoming a controlling tty;
 * everything after that goes through the descriptor, which must be a regular file with the
 * record's (dev, inode), size and mtime, and whose size, mtime and ctime did not move while
 * it was read. Anything else is refused, counted by reason, and never thrown.
 *
 * Which files deserve a hash (an x bit in the record's mode, a local filesystem: a stalled
 * FUSE or NFS server stalls one of the slots) is the caller's choice.
 */
import { constants, type BigIntStats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/**
 * One version of a file as a record names it: the path that led to it and its (dev, inode,
 * size, mtime); dev is the kernel dev_t (major << 20 | minor).
 */
export interface FileVersion {
  readonly path: string;
  readonly dev: number;
  readonly ino: bigint;
  readonly size: number;
  readonly mtimeNs: bigint;
}

/** Digests of one file version, lowercase hex. */
export interface Digests {
  readonly md5: string;
  readonly sha256: string;
}

/** Bounds of a {@link Checksums} cache. */
export interface ChecksumsOptions {
  /** larger files are refused as tooBig; default 64 MiB */
  readonly maxFileBytes?: number;
  /** cached versions, least recently used evicted first; default 4096 */
  readonly maxEntries?: number;
  /** files read and hashed at once; default 2 */
  readonly maxConcurrent?: number;
  /** requests waiting for a slot before new ones are refused as busy; default 256 */
  readonly maxQueued?: number;
}

/** Why {@link Checksums.compute} resolved without digests. */
export type ChecksumRefusal =
  /** the opened inode is not a regular file (FIFO, socket, device, directory) */
  | "notRegular"
  /** the path's last component is a symlink (O_NOFOLLOW: ELOOP) */
  | "symlink"
  /** the path leads to another (dev, inode) than the record's: replaced or raced */
  | "otherFile"
  /** the record's size or mtime no longer match the file: that version is gone */
  | "outdated"
  /** the record's or the file's size is above maxFileBytes */
  | "tooBig"
  /** size, mtime or ctime moved while the file was read, or it ended early */
  | "changedWhileReading"
  /** open(2) failed: missing, no permission, lease held (EWOULDBLOCK), ... */
  | "openFailed"
  /** fstat(2) or read(2) on the descriptor failed */
  | "readFailed"
  /** maxConcurrent hashes in flight and maxQueued waiting */
  | "busy"
  /** an exception that should not happen (bad arguments or a bug), caught so compute never rejects */
  | "unexpected";

const REASONS: readonly ChecksumRefusal[] = [
  "notRegular",
  "symlink",
  "otherFile",
  "outdated",
  "tooBig",
  "changedWhileReading",
  "openFailed",
  "readFailed",
  "busy",
  "unexpected",
];

/** Read-only, no symlink as the last component, never block (FIFO, lease), never acquire a tty. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
/** Also leave atime alone; needs ownership or CAP_FOWNER, so retried without on EPERM. */
const NOATIME = constants.O_NOATIME ?? 0;
const CHUNK_BYTES = 256 * 1024;

/**
 * Kernel dev_t (major << 20 | minor) of stat()'s st_dev in glibc's encoding, or -1 when the
 * device number does not fit the kernel's 12-bit major and 20-bit minor.
 */
export function kernelDev(statDev: bigint): number {
  const d = BigInt.asUintN(64, statDev);
  const major = ((d & 0xfff00n) >> 8n) | ((d & 0xfffff00000000000n) >> 32n);
  const minor = (d & 0xffn) | ((d & 0xffffff00000n) >> 12n);
  if (major > 0xfffn || minor > 0xfffffn) return -1;
  return Number(major) * 0x100000 + Number(minor);
}

function versionKey(v: FileVersion): string {
  return `${v.dev}:${v.ino}:${v.size}:${v.mtimeNs}`;
}

function errorCode(e: unknown): unknown {
  return typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
}

async function openNoFollow(path: string): Promise<FileHandle> {
  if (NOATIME === 0) return open(path, OPEN_FLAGS);
  try {
    return await open(path, OPEN_FLAGS | NOATIME);
  } catch (e) {
    if (errorCode(e) !== "EPERM") throw e;
    return open(path, OPEN_FLAGS);
  }
}

function sameContent(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/**
 * LRU cache of file digests with a bounded hashing queue. `get` answers from memory only;
 * `compute` hashes in the background and resolves undefined (counted in `refused`) instead
 * of failing.
 */
export class Checksums {
  private readonly maxFileBytes: number;
  private readonly maxEntries: number;
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  /** insertion order is recency: a hit is deleted and set again */
  private readonly cache = new Map<string, Digests>();
  private readonly inflight = new Map<string, Promise<Digests | undefined>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private hashedCount = 0;
  private readonly counts: Record<ChecksumRefusal, number>;

  constructor(opts: ChecksumsOptions = {}) {
    this.maxFileBytes = opts.maxFileBytes ?? 64 * 1024 * 1024;
    this.maxEntries = Math.max(1, opts.maxEntries ?? 4096);
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 2);
    this.maxQueued = Math.max(0, opts.maxQueued ?? 256);
    this.counts = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<ChecksumRefusal, number>;
  }

  /** Refusals and failures by reason, every reason present (0 until it happens). */
  get refused(): Readonly<Record<ChecksumRefusal, number>> {
    return this.counts;
  }

  /** Files read to the end and hashed into the cache. */
  get hashed(): number {
    return this.hashedCount;
  }

  /** Cached versions. */
  get size(): number {
    return this.cache.size;
  }

  /** Cached digests of exactly this file version, else undefined. Synchronous, no I/O. */
  get(v: FileVersion): Digests | undefined {
    return this.lookup(versionKey(v));
  }

  /**
   * Hashes the file the record names, off the caller's path (async I/O only), deduplicating
   * concurrent requests for the same version, and caches the result. Resolves undefined
   * (never rejects) when it refuses or fails, counting the reason in `refused`.
   */
  compute(v: FileVersion): Promise<Digests | undefined> {
    try {
      const key = versionKey(v);
      const hit = this.lookup(key);
      if (hit) return Promise.resolve(hit);
      const pending = this.inflight.get(key);
      if (pending) return pending;
      if (v.size > this.maxFileBytes) return Promise.resolve(this.refuse("tooBig"));
      if (this.running >= this.maxConcurrent && this.waiting.length >= this.maxQueued) {
        return Promise.resolve(this.refuse("busy"));
      }
      const slot = this.acquire();
      const job = this.run(slot, key, v);
      this.inflight.set(key, job);
      return job;
    } catch {
      return Promise.resolve(this.refuse("unexpected"));
    }
  }

  private lookup(key: string): Digests | undefined {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private refuse(reason: ChecksumRefusal): undefined {
    this.counts[reason]++;
    return undefined;
  }

  /** Takes a slot now (undefined) or a promise of one; the caller checked the backlog. */
  private acquire(): Promise<void> | undefined {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the oldest waiter, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  private async run(slot: Promise<void> | undefined, key: string, v: FileVersion): Promise<Digests | undefined> {
    try {
      await slot;
      try {
        const digests = await this.hashFile(v);
        if (digests) this.store(key, digests);
        return digests;
      } finally {
        this.release();
      }
    } catch {
      return this.refuse("unexpected");
    } finally {
      this.inflight.delete(key);
    }
  }

  private store(key: string, digests: Digests): void {
    this.hashedCount++;
    this.cache.set(key, digests);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  private async hashFile(v: FileVersion): Promise<Digests | undefined> {
    let fh: FileHandle;
    try {
      fh = await openNoFollow(v.path);
    } catch (e) {
      return this.refuse(errorCode(e) === "ELOOP" ? "symlink" : "openFailed");
    }
    try {
      return await this.hashOpened(fh, v);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** Everything after open(2) goes through the descriptor. */
  private async hashOpened(fh: FileHandle, v: FileVersion): Promise<Digests | undefined> {
    let before: BigIntStats;
    try {
      before = await fh.stat({ bigint: true });
    } catch {
      return this.refuse("readFailed");
    }
    if (!before.isFile()) return this.refuse("notRegular");
    if (before.ino !== v.ino || kernelDev(before.dev) !== v.dev) return this.refuse("otherFile");
    if (before.size > BigInt(this.maxFileBytes)) return this.refuse("tooBig");
    if (before.size !== BigInt(v.size) || before.mtimeNs !== v.mtimeNs) return this.refuse("outdated");

    const md5 = new Bun.CryptoHasher("md5");
    const sha256 = new Bun.CryptoHasher("sha256");
    const total = v.size;
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, total)));
    let pos = 0;
    let after: BigIntStats;
    try {
      while (pos < total) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, total - pos), pos);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        md5.update(chunk);
        sha256.update(chunk);
        pos += bytesRead;
      }
      after = await fh.stat({ bigint: true });
    } catch {
      return this.refuse("readFailed");
    }
    if (pos !== total || !sameContent(before, after)) return this.refuse("changedWhileReading");
    return { md5: md5.digest("hex"), sha256: sha256.digest("hex") };
  }
}
