/**
 * Cgroup v2 ids, as the kernel records carry them, to the cgroup's path and the id of
 * the container it belongs to (ProcCgroup, ProcContainerId). An id is the kernfs inode
 * number of the cgroup's directory, so it names the directory while that exists. A new
 * id is looked up once and kept (bounded); ids that cannot be named are counted.
 *
 * A new id is looked up, cheapest and surest first:
 *  1. by file handle (open_by_handle_at on the hierarchy, needs CAP_DAC_READ_SEARCH):
 *     exact for any cgroup that still exists;
 *  2. through the record's process, while it lives: the v2 line of /proc/PID/cgroup,
 *     taken if that directory has the id;
 *  3. by walking the whole hierarchy, within a budget of its time: at once for an id
 *     newer than every one the last walk saw (kernfs hands ids out in increasing order,
 *     so that cgroup was made since), else not sooner than WALK_MIN_GAP_MS after it.
 * A cgroup removed before its records were printed (a short-lived container without the
 * capability) stays unnamed: counted in `unresolved`.
 */
import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";

/** What a cgroup id names. */
export interface CgroupInfo {
  /** the cgroup's path in the v2 hierarchy ("/" for its root), as /proc/PID/cgroup shows it */
  readonly path: string;
  /** the 64-hex id of the container whose cgroup it is (or is inside of), if any */
  readonly containerId: string | undefined;
}

/**
 * One path component that runtimes name after the container: "<64 hex>" (cgroupfs
 * drivers: docker/<id>, kubepods/<qos>/pod<uid>/<id>, containerd's <namespace>/<id>), or
 * "<prefix>-<64 hex>" with an optional ".scope" (systemd drivers: docker-<id>.scope,
 * cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope; podman's cgroupfs
 * libpod-<id>). The conmon monitors of CRI-O and podman (crio-conmon-<id>.scope,
 * libpod-conmon-<id>.scope) are not inside the container.
 */
const CONTAINER_PART = /^(?:([A-Za-z][\w.-]*)-)?([0-9a-f]{64})(?:\.scope)?$/;

/** The container a cgroup path belongs to: the innermost component named after one. */
export function containerIdOf(path: string): string | undefined {
  let end = path.length;
  while (end > 0) {
    const start = path.lastIndexOf("/", end - 1) + 1;
    // 64 hex digits at least: most components are skipped on their length alone
    if (end - start >= 64) {
      const m = CONTAINER_PART.exec(path.slice(start, end));
      if (m && !m[1]?.endsWith("conmon")) return m[2];
    }
    end = start - 1;
  }
  return undefined;
}

/** What a cgroup v2 hierarchy offers the lookups; the real one reads the file system. */
export interface CgroupHierarchy {
  /** where it is mounted (mountinfo's mount point) */
  readonly mount: string;
  /** the directory of the hierarchy mounted there (mountinfo's root), "/" unless in a cgroup namespace */
  readonly root: string;
  /**
   * The path (mount point included) of the directory with id, by file handle: a string,
   * or -errno (-ESTALE: no such directory; others: the method is not available).
   */
  readonly byHandle?: (id: number) => string | number;
}

const ESTALE = 116;
const ENOENT = 2;
/** most ids kept named (and most kept as unnamed); the oldest go first */
const MAX_KNOWN = 16384;
const MAX_UNKNOWN = 4096;
/** an id that could not be named is not looked up again sooner than this */
const RETRY_MS = 1000;
/** at most this much time of every WALK_WINDOW_MS is spent walking (2 %) */
const WALK_BUDGET_MS = 20;
const WALK_WINDOW_MS = 1000;
/** an id no newer than the last walk's newest (it missed it) waits this long for the next */
const WALK_MIN_GAP_MS = 200;
/** deepest directory level walked */
const WALK_MAX_DEPTH = 32;

export class CgroupNames {
  private readonly known = new Map<number, CgroupInfo>();
  /** ids that could not be named, and when */
  private readonly unknown = new Map<number, number>();
  private byHandle: CgroupHierarchy["byHandle"];
  private walkedAt = Number.NEGATIVE_INFINITY;
  private walkMs = 0;
  /** the newest id the last walk saw */
  private walkedMaxId = 0;
  /** walk time spent in the current budget window, and when it began */
  private walkSpentMs = 0;
  private walkWindowAt = Number.NEGATIVE_INFINITY;
  /** records whose cgroup could not be named */
  unresolved = 0;

  /** hierarchy: undefined when no cgroup v2 hierarchy is mounted (nothing can be named) */
  constructor(
    private readonly hierarchy: CgroupHierarchy | undefined,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.byHandle = hierarchy?.byHandle;
  }

  /** What id names; pid: the record's process (0: none), which may show it. Counts what cannot be named. */
  cgroup(id: number, pid: number): CgroupInfo | undefined {
    const info = this.known.get(id);
    if (info !== undefined) return info;
    return this.lookup(id, pid);
  }

  /** Ids named so far (kept). */
  get size(): number {
    return this.known.size;
  }

  private lookup(id: number, pid: number): CgroupInfo | undefined {
    const h = this.hierarchy;
    const now = this.nowMs();
    const failed = this.unknown.get(id);
    if (h === undefined || (failed !== undefined && now - failed < RETRY_MS)) {
      this.unresolved++;
      return undefined;
    }
    const path = this.handlePath(h, id) ?? this.processPath(h, id, pid) ?? this.walk(h, id, now);
    if (path === undefined) {
      this.unresolved++;
      this.unknown.delete(id);
      if (this.unknown.size >= MAX_UNKNOWN) this.unknown.delete(this.unknown.keys().next().value!);
      this.unknown.set(id, now);
      return undefined;
    }
    this.unknown.delete(id);
    return this.remember(id, path);
  }

  private remember(id: number, path: string): CgroupInfo {
    const info: CgroupInfo = { path, containerId: containerIdOf(path) };
    if (this.known.size >= MAX_KNOWN) this.known.delete(this.known.keys().next().value!);
    this.known.set(id, info);
    return info;
  }

  /** The hierarchy's path of a directory below the mount point, as /proc/PID/cgroup shows it. */
  private inHierarchy(h: CgroupHierarchy, rel: string): string {
    if (h.root === "/") return rel === "" ? "/" : rel;
    return rel === "" ? h.root : `${h.root}${rel}`;
  }

  private handlePath(h: CgroupHierarchy, id: number): string | undefined {
    if (!this.byHandle) return undefined;
    let full = this.byHandle(id);
    if (typeof full === "number") {
      // any error but "no such cgroup" means the method is not available here
      if (full !== -ESTALE && full !== -ENOENT) this.byHandle = undefined;
      return undefined;
    }
    if (full.endsWith(" (deleted)")) full = full.slice(0, -" (deleted)".length);
    if (full === h.mount) return this.inHierarchy(h, "");
    if (!full.startsWith(`${h.mount}/`)) return undefined;
    return this.inHierarchy(h, full.slice(h.mount.length));
  }

  /** The v2 cgroup of process pid, if its directory has id. */
  private processPath(h: CgroupHierarchy, id: number, pid: number): string | undefined {
    // /proc shows paths relative to the reader's cgroup namespace: comparable when the mount is its root
    if (pid <= 0 || h.root !== "/") return undefined;
    let line: string | undefined;
    try {
      line = readFileSync(`/proc/${pid}/cgroup`, "utf8")
        .split("\n")
        .find((l) => l.startsWith("0::/"));
    } catch {
      return undefined;
    }
    if (line === undefined) return undefined;
    const path = line.slice(3);
    try {
      if (statSync(path === "/" ? h.mount : `${h.mount}${path}`).ino !== id) return undefined;
    } catch {
      return undefined;
    }
    return path;
  }

  /** Names every directory of the hierarchy, if a walk is due; returns id's path if found. */
  private walk(h: CgroupHierarchy, id: number, now: number): string | undefined {
    if (now - this.walkWindowAt >= WALK_WINDOW_MS) {
      this.walkWindowAt = now;
      this.walkSpentMs = 0;
    }
    if (this.walkSpentMs + this.walkMs > WALK_BUDGET_MS) return undefined;
    if (id <= this.walkedMaxId && now - this.walkedAt < WALK_MIN_GAP_MS) return undefined;
    const t0 = performance.now();
    let found: string | undefined;
    let maxId = 0;
    const visit = (rel: string, depth: number): void => {
      let ino: number;
      try {
        ino = statSync(`${h.mount}${rel}`).ino;
      } catch {
        return;
      }
      const path = this.inHierarchy(h, rel);
      if (ino === id) found = path;
      if (ino > maxId) maxId = ino;
      if (!this.known.has(ino) && this.known.size < MAX_KNOWN) this.remember(ino, path);
      if (depth >= WALK_MAX_DEPTH) return;
      let entries: Dirent[];
      try {
        entries = readdirSync(`${h.mount}${rel}`, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) if (e.isDirectory()) visit(`${rel}/${e.name}`, depth + 1);
    };
    visit("", 0);
    this.walkMs = performance.now() - t0;
    this.walkSpentMs += this.walkMs;
    this.walkedMaxId = maxId;
    this.walkedAt = this.nowMs();
    return found;
  }
}
