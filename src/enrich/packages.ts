/**
 * Package versions for -v: the version of the installed dpkg or rpm package that owns a file
 * (FileVersion) or an executable known only by its basename (ProcVersion).
 *
 * Indexing rule. Only paths FileVersion/ProcVersion can ask about are kept, not every packaged
 * file (a Debian 12 host with 800 packages and 115,000 packaged paths: 4,041 paths, 1.3 MB of
 * heap). A packaged path, after merged-/usr normalization, is indexed when it is not a directory
 * of its own package and
 *  1. its parent directory is named `bin`, `sbin` or `games` (/usr/bin/ls, /usr/local/sbin/x,
 *     /usr/lib/jvm/java-17/bin/java),
 *  2. it lies anywhere below a directory named `libexec` (/usr/libexec/**),
 *  3. it is a direct child of /usr/lib/<dir>/ with no dot in its name: Debian's libexec
 *     (/usr/lib/openssh/ssh-keysign, /usr/lib/systemd/systemd-journald, /usr/lib/git-core/git-add), or
 *  4. its name is a shared object, `*.so` or `*.so.<version>` (libc.so.6, libstemmer.so.0d), anywhere.
 * Paths under rules 1-3 also feed the basename index behind exeVersion(); shared objects do not.
 *
 * Merged /usr: paths below /bin, /sbin, /lib, /lib32, /lib64 and /libx32 are keyed as /usr/...,
 * so a package listing /bin/ls answers for /usr/bin/ls and the other way round. When packages
 * claim one normalized path with different versions (a host without merged /usr, where /bin/x
 * and /usr/bin/x are different files), each exact path keeps its own version and the other
 * spelling answers "".
 *
 * Sources, both optional (a missing or unreadable database gives an empty cache, never an error):
 *  - dpkg: `status` (Package, Architecture, Multi-Arch, Version as written, Status), the file
 *    lists `info/<pkg>.list` or `info/<pkg>:<arch>.list`, and `diversions`. A package counts when
 *    its files are on disk: state installed, triggers-pending, triggers-awaited, half-configured or
 *    unpacked; config-files, half-installed and not-installed packages are ignored.
 *  - rpm: the `Packages` table of rpmdb.sqlite (rpm >= 4.16 sqlite backend; Berkeley DB databases
 *    are not read), opened read-only with bun:sqlite; each blob is an rpm header parsed by the
 *    bounds-checked {@link parseRpmHeader}; a bad blob skips its package.
 *    Version text: VERSION-RELEASE, prefixed by EPOCH: when the header has an epoch.
 *
 * Reads are asynchronous (list files in small batches, huge lists and rpm rows with yields to the
 * event loop), so loading never blocks the agent for long. What each package contributes is kept
 * between loads: a reload re-reads only dpkg packages whose version, list file or the diversions
 * changed, and only rpm rows not seen before (hnum), so reloads during an upgrade stay cheap.
 */
import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { parseRpmHeader, type RpmHeader } from "./rpm-header.ts";

const DEFAULT_DPKG_DIR = "/var/lib/dpkg";
const DEFAULT_RPM_DB = "/var/lib/rpm/rpmdb.sqlite";
/** list files read at once; bounds the transient memory of a load */
const LIST_BATCH = 16;
/** lines of one file list handled between two yields to the event loop (only huge lists yield) */
const LINES_PER_YIELD = 8192;
/** rpm rows parsed between two yields to the event loop */
const RPM_ROWS_PER_YIELD = 32;

/** dpkg states in which a package's files are on disk */
const FILES_ON_DISK = new Set(["installed", "triggers-pending", "triggers-awaited", "half-configured", "unpacked"]);
const MERGED_USR = /^\/(?:bin|sbin|lib|lib32|lib64|libx32)\//;
const SHARED_OBJECT = /\.so(?:\.\d+[a-z]?)*$/;

/**
 * A copy of a string that does not share its parent's buffer: JSC substrings (slice, trim, and
 * even slices of concatenations) keep the whole string they came from alive, which would pin
 * every list file read. A round trip through bytes always makes a new string.
 */
function detach(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

/** The key of a path in the index: /bin/x, /sbin/x, /lib*\/x are spelled /usr/... (merged /usr). */
export function normalizePackagePath(path: string): string {
  return MERGED_USR.test(path) ? `/usr${path}` : path;
}

/** How the indexing rule (module comment) classifies a normalized path. */
export type PathKind = "exe" | "lib" | undefined;

/** Applies the indexing rule (module comment) to a normalized path. Called for every packaged path, so cheap. */
export function classifyPackagePath(path: string): PathKind {
  const slash = path.lastIndexOf("/");
  if (slash < 0 || slash === path.length - 1 || path.endsWith("/.") || path.endsWith("/..")) return undefined;
  const parentStart = path.lastIndexOf("/", slash - 1) + 1;
  const parent = path.slice(parentStart, slash);
  if (parent === "bin" || parent === "sbin" || parent === "games") return "exe";
  if (path.includes("/libexec/")) return "exe";
  // parentStart 9: the directory is /usr/lib/<parent>
  if (parentStart === 9 && parent !== "" && path.startsWith("/usr/lib/") && !path.includes(".", slash)) return "exe";
  if (path.includes(".so", slash) && SHARED_OBJECT.test(path)) return "lib";
  return undefined;
}

/** Whether the indexing rule selects this packaged path. */
function selects(path: string): boolean {
  return classifyPackagePath(normalizePackagePath(path)) !== undefined;
}

/**
 * What one package contributes: its version and the files the rule selects, as on disk. Kept
 * between loads, so a reload re-reads only packages whose stamp changed.
 */
interface Unit {
  /** dpkg: version, list file and diversions stamps; rpm: "" (a header row never changes) */
  readonly stamp: string;
  readonly version: string;
  /** detached strings (see detach()) */
  readonly files: readonly string[];
}

/** Units by key (`dpkg:<name>:<arch>`, `rpm:<db inode>:<hnum>`), in load order. */
type Units = Map<string, Unit>;

/** The lookup tables of one load; replaced as a whole on reload. */
interface Index {
  /** normalized path -> version ("" when packages disagree; see `exact`) */
  readonly paths: ReadonlyMap<string, string>;
  /** exact path -> version, only for normalized paths that packages disagree on */
  readonly exact: ReadonlyMap<string, string>;
  /** executable basename -> version ("" when ambiguous across versions) */
  readonly exes: ReadonlyMap<string, string>;
}

class IndexBuilder implements Index {
  readonly paths = new Map<string, string>();
  readonly exact = new Map<string, string>();
  readonly exes = new Map<string, string>();
  /** normalized -> path as first packaged, when they differ (needed only to split a conflict) */
  private readonly firstSpelling = new Map<string, string>();
  private readonly conflicted = new Set<string>();

  /** Indexes one packaged file (not a directory) if the rule selects it. */
  add(path: string, version: string): void {
    const key = normalizePackagePath(path);
    const kind = classifyPackagePath(key);
    if (kind === undefined) return;
    if (kind === "exe") {
      const name = key.slice(key.lastIndexOf("/") + 1);
      const known = this.exes.get(name);
      if (known === undefined) this.exes.set(name, version);
      else if (known !== version) this.exes.set(name, "");
    }
    const known = this.paths.get(key);
    if (known === undefined) {
      this.paths.set(key, version);
      if (path !== key) this.firstSpelling.set(key, path);
      return;
    }
    if (known === version && !this.conflicted.has(key)) return;
    if (!this.conflicted.has(key)) {
      this.conflicted.add(key);
      this.exact.set(this.firstSpelling.get(key) ?? key, known);
      this.paths.set(key, "");
    }
    const exact = this.exact.get(path);
    this.exact.set(path, exact === undefined || exact === version ? version : "");
  }
}

/** An installed dpkg package, as read from the status file. */
export interface DpkgPackage {
  readonly name: string;
  readonly arch: string;
  readonly version: string;
  /** the Multi-Arch field ("same" packages have `<name>:<arch>.list` files) */
  readonly multiArch: string;
}

/** The packages of a dpkg status file whose files are on disk (states: module comment). */
export function parseDpkgStatus(text: string): DpkgPackage[] {
  const packages: DpkgPackage[] = [];
  let name = "";
  let arch = "";
  let version = "";
  let multiArch = "";
  let state = "";
  const flush = (): void => {
    if (name !== "" && version !== "" && FILES_ON_DISK.has(state)) {
      // the version outlives the status text, so it must not share its buffer
      packages.push({ name, arch, version: detach(version), multiArch });
    }
    name = arch = version = multiArch = state = "";
  };
  // walks the lines without splitting the whole file: only the five fields used become strings
  for (let at = 0; at <= text.length; ) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const value = (field: string): string => text.slice(at + field.length, end).trim();
    if (end === at) flush();
    else if (text.startsWith("Package:", at)) name = value("Package:");
    else if (text.startsWith("Architecture:", at)) arch = value("Architecture:");
    else if (text.startsWith("Version:", at)) version = value("Version:");
    else if (text.startsWith("Multi-Arch:", at)) multiArch = value("Multi-Arch:");
    // "Status: <want> <flag> <state>"
    else if (text.startsWith("Status:", at)) state = value("Status:").split(/\s+/)[2] ?? "";
    at = end + 1;
  }
  flush();
  return packages;
}

/** One dpkg diversion: files at `from` of packages other than `by` live at `to`. */
interface Diversion {
  readonly to: string;
  /** the diverting package; ":" for a local diversion, which applies to every package */
  readonly by: string;
}

/** dpkg's diversions file: groups of three lines (from, to, diverting package). */
export function parseDpkgDiversions(text: string): Map<string, Diversion> {
  const lines = text.split("\n");
  const diversions = new Map<string, Diversion>();
  for (let i = 0; i + 2 < lines.length; i += 3) {
    const from = lines[i]!;
    const to = lines[i + 1]!;
    if (from.startsWith("/") && to.startsWith("/")) diversions.set(from, { to, by: lines[i + 2]! });
  }
  return diversions;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The file list of a package and its stamp: `<name>:<arch>.list` for Multi-Arch: same, else `<name>.list`. */
async function findDpkgList(infoDir: string, pkg: DpkgPackage): Promise<{ path: string; stamp: string } | undefined> {
  const qualified = `${infoDir}/${pkg.name}:${pkg.arch}.list`;
  const plain = `${infoDir}/${pkg.name}.list`;
  for (const path of pkg.multiArch === "same" ? [qualified, plain] : [plain, qualified]) {
    try {
      const st = await stat(path);
      return { path, stamp: `${st.mtimeMs}:${st.size}:${st.ino}` };
    } catch {
      // try the other name
    }
  }
  return undefined;
}

/** The files of a dpkg list that the rule selects, at their diverted paths, without directories. */
async function dpkgFiles(list: string, pkg: DpkgPackage, diversions: Map<string, Diversion>): Promise<string[]> {
  const paths = list.split("\n");
  // packaged path -> path on disk (another package's diversion moves it), for paths the rule selects
  const selected = new Map<string, string>();
  for (let i = 0; i < paths.length; i++) {
    if (i % LINES_PER_YIELD === LINES_PER_YIELD - 1) await yieldToLoop();
    const path = paths[i]!;
    if (!path.startsWith("/")) continue;
    const diversion = diversions.get(path);
    const target = diversion !== undefined && diversion.by !== pkg.name ? diversion.to : path;
    if (selects(target)) selected.set(path, target);
  }
  if (selected.size === 0) return [];
  // an entry that is the parent of another entry of the same list is a directory
  for (let i = 0; i < paths.length; i++) {
    if (i % LINES_PER_YIELD === LINES_PER_YIELD - 1) await yieldToLoop();
    const path = paths[i]!;
    selected.delete(path.slice(0, path.lastIndexOf("/")));
  }
  return [...selected.values()].map(detach);
}

async function loadDpkg(dpkgDir: string, previous: Units, units: Units): Promise<void> {
  const status = await readText(`${dpkgDir}/status`);
  if (status === undefined) return;
  const packages = parseDpkgStatus(status);
  const diversionsText = (await readText(`${dpkgDir}/diversions`)) ?? "";
  const diversions = parseDpkgDiversions(diversionsText);
  // a changed diversion can move any package's files
  const diversionsStamp = `${diversionsText.length}:${Bun.hash(diversionsText)}`;
  const infoDir = `${dpkgDir}/info`;
  for (let i = 0; i < packages.length; i += LIST_BATCH) {
    const batch = packages.slice(i, i + LIST_BATCH);
    const lists = await Promise.all(batch.map((pkg) => findDpkgList(infoDir, pkg)));
    const stamps = batch.map((pkg, j) => `${pkg.version}|${lists[j]?.stamp}|${diversionsStamp}`);
    const reuse = batch.map((pkg, j) => previous.get(`dpkg:${pkg.name}:${pkg.arch}`)?.stamp === stamps[j]);
    const texts = await Promise.all(batch.map((_, j) => (reuse[j] || lists[j] === undefined ? undefined : readText(lists[j].path))));
    // kept in status order, so a load is deterministic
    for (const [j, pkg] of batch.entries()) {
      const key = `dpkg:${pkg.name}:${pkg.arch}`;
      const text = texts[j];
      if (reuse[j]) units.set(key, previous.get(key)!);
      else if (text !== undefined) {
        units.set(key, { stamp: stamps[j]!, version: pkg.version, files: await dpkgFiles(text, pkg, diversions) });
      }
    }
  }
}

/** The files of an rpm header that the rule selects, without the package's own directories. */
function rpmFiles(header: RpmHeader): string[] {
  const files: string[] = [];
  let dirs: Set<string> | undefined;
  header.baseNames.forEach((base, i) => {
    const path = `${header.dirNames[header.dirIndexes[i]!]}${base}`;
    if (!selects(path)) return;
    // "/usr/libexec/x" is a directory when "/usr/libexec/x/" is one of the package's DIRNAMES
    dirs ??= new Set(header.dirNames);
    if (!dirs.has(`${path}/`)) files.push(detach(path));
  });
  return files;
}

async function loadRpm(rpmDb: string, previous: Units, units: Units): Promise<void> {
  let db: Database;
  try {
    db = new Database(rpmDb, { readonly: true });
  } catch {
    return;
  }
  try {
    // hnum is AUTOINCREMENT, never reused in one database file; a rebuilt database is a new file
    const inode = statSync(rpmDb).ino;
    const hnums = db.query<{ hnum: unknown }, []>("SELECT hnum FROM Packages ORDER BY hnum").all();
    const blobOf = db.query<{ blob: unknown }, [number]>("SELECT blob FROM Packages WHERE hnum = ?");
    let parsed = 0;
    for (const { hnum } of hnums) {
      if (typeof hnum !== "number") continue;
      const key = `rpm:${inode}:${hnum}`;
      const known = previous.get(key);
      if (known !== undefined) {
        units.set(key, known);
        continue;
      }
      const blob = blobOf.get(hnum)?.blob;
      const header = blob instanceof Uint8Array ? parseRpmHeader(blob) : undefined;
      // a bad blob is remembered as an empty unit, so it is not parsed again on every reload
      units.set(key, header === undefined ? EMPTY_UNIT : { stamp: "", version: header.evr, files: rpmFiles(header) });
      if (++parsed % RPM_ROWS_PER_YIELD === 0) await yieldToLoop();
    }
  } catch {
    // no Packages table, locked or corrupt database: keep what was read
  } finally {
    db.close();
  }
}

const EMPTY_UNIT: Unit = { stamp: "", version: "", files: [] };

/** Reads both databases, reusing the units of `previous` whose stamps did not change. */
async function loadUnits(dpkgDir: string, rpmDb: string, previous: Units): Promise<Units> {
  const units: Units = new Map();
  try {
    await loadDpkg(dpkgDir, previous, units);
  } catch {
    // unexpected: keep what was read
  }
  await loadRpm(rpmDb, previous, units);
  return units;
}

function indexUnits(units: Units): Index {
  const builder = new IndexBuilder();
  for (const unit of units.values()) for (const file of unit.files) builder.add(file, unit.version);
  return { paths: builder.paths, exact: builder.exact, exes: builder.exes };
}

function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return "-";
  }
}

/**
 * A WAL file's stamp: missing and empty are the same, since opening the database (even
 * read-only) creates an empty one, which must not look like a change.
 */
function walStamp(path: string): string {
  try {
    const st = statSync(path);
    return st.size === 0 ? "-" : `${st.mtimeMs}:${st.size}`;
  } catch {
    return "-";
  }
}

/**
 * Package versions of executables and shared libraries from the dpkg and/or rpm databases
 * (indexing rule and sources: module comment).
 */
export class PackageVersions {
  private units: Units;
  private index: Index;
  private stamp: string;
  private reloading = false;
  private lastReload: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dpkgDir: string,
    private readonly rpmDb: string,
    stamp: string,
    units: Units,
  ) {
    this.stamp = stamp;
    this.units = units;
    this.index = indexUnits(units);
  }

  /**
   * Loads the dpkg database (dpkgDir, default /var/lib/dpkg) and/or the rpm sqlite database
   * (rpmDb, default /var/lib/rpm/rpmdb.sqlite), whichever exist; never rejects (a missing or
   * unreadable database contributes nothing).
   */
  static async load(opts: { readonly dpkgDir?: string; readonly rpmDb?: string } = {}): Promise<PackageVersions> {
    const dpkgDir = opts.dpkgDir ?? DEFAULT_DPKG_DIR;
    const rpmDb = opts.rpmDb ?? DEFAULT_RPM_DB;
    // stamped before reading, so a change made during the load is seen by the next refresh()
    const stamp = PackageVersions.stampOf(dpkgDir, rpmDb);
    return new PackageVersions(dpkgDir, rpmDb, stamp, await loadUnits(dpkgDir, rpmDb, new Map()));
  }

  private static stampOf(dpkgDir: string, rpmDb: string): string {
    const files = [`${dpkgDir}/status`, `${dpkgDir}/diversions`, rpmDb];
    return `${files.map(fileStamp).join("|")}|${walStamp(`${rpmDb}-wal`)}`;
  }

  /** Number of (normalized) paths indexed, for the start-up banner. */
  get size(): number {
    return this.index.paths.size;
  }

  /** Version of the package owning this absolute path ("" when none or ambiguous); for FileVersion. */
  fileVersion(path: string): string {
    return this.index.exact.get(path) ?? this.index.paths.get(normalizePackagePath(path)) ?? "";
  }

  /**
   * Version of the package owning an executable with this basename in a bin/sbin/libexec-style
   * directory (rules 1-3 of the module comment); "" when none or when packages of different
   * versions ship that name. For ProcVersion, since records carry only the exe basename.
   */
  exeVersion(name: string): string {
    return this.index.exes.get(name) ?? "";
  }

  /**
   * Cheap check (stat of dpkg's status and diversions, rpmdb.sqlite and its WAL); when one
   * changed, starts an asynchronous reload that swaps the index when done, and returns true.
   * Returns false when nothing changed or a reload is still running (a change made meanwhile is
   * picked up by a later call). Meant to be called about once a second.
   */
  refresh(): boolean {
    if (this.reloading) return false;
    const stamp = PackageVersions.stampOf(this.dpkgDir, this.rpmDb);
    if (stamp === this.stamp) return false;
    this.stamp = stamp;
    this.reloading = true;
    this.lastReload = loadUnits(this.dpkgDir, this.rpmDb, this.units)
      .then((units) => {
        this.units = units;
        this.index = indexUnits(units);
      })
      .catch(() => {
        // keep the previous index
      })
      .finally(() => {
        this.reloading = false;
      });
    return true;
  }

  /**
   * Settles (never rejects) once the reload started by the last refresh() that returned true
   * has swapped in its index; already settled when no reload was started.
   */
  get reloaded(): Promise<void> {
    return this.lastReload;
  }
}
