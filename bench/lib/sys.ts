/**
 * What the benchmarks need from the system: running commands, the C helpers compiled
 * at bench time, Debian tools installed on demand, process CPU and memory from /proc,
 * and the kernel objects (BPF maps and programs) a process holds.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * Everything a bench run writes lives here (never in the repository); KFLOWD_BENCH_WORK
 * gives a run a directory of its own when others bench on the same machine.
 */
export const WORK = process.env.KFLOWD_BENCH_WORK || "/tmp/kflowd-bench";
export const BIN = join(WORK, "bin");
const C_DIR = resolve(import.meta.dir, "../c");

export interface Done {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** wall time from spawn to exit, ms */
  readonly wallMs: number;
  /** CPU time (user + system) of the process and the children it waited for, ms */
  readonly cpuMs: number;
}

/** Runs a command to its end; throws when it fails unless allowFail. */
export async function run(cmd: readonly string[], opts: { cwd?: string; allowFail?: boolean } = {}): Promise<Done> {
  const t0 = performance.now();
  const p = Bun.spawn([...cmd], { cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const wallMs = performance.now() - t0;
  if (code !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.join(" ")} exited with ${code}: ${stderr.trim().slice(-500)}`);
  }
  const cpuMs = Number(p.resourceUsage()?.cpuTime.total ?? Number.NaN) / 1000;
  return { code, stdout, stderr, wallMs, cpuMs };
}

export const sleep = (ms: number): Promise<void> => Bun.sleep(ms);

/** The load generator's core and the server's, when there are two (see pinned). */
export const CLIENT_CPU = 0;
export const SERVER_CPU = 1;

/**
 * cmd run on one core (taskset, which execs it: the pid stays the command's). A client and
 * a server of a loopback benchmark are each put on a core of their own: left to the
 * scheduler on 2 cores they sometimes share one, and nginx's rate alone then moved between
 * 12.6k and 20.3k requests/s from one 2-s run to the next. The agent is never pinned: it
 * competes for both cores. Unpinned on a machine with one core.
 */
export function pinned(cpu: number, cmd: readonly string[]): string[] {
  return navigator.hardwareConcurrency >= 2 && Bun.which("taskset") ? ["taskset", "-c", String(cpu), ...cmd] : [...cmd];
}

/** Compiles bench/c/<name>.c with gcc -O2 into WORK/bin (again only when the source changed); libs: -l flags. */
export async function cProgram(name: string, libs: readonly string[] = []): Promise<string> {
  mkdirSync(BIN, { recursive: true });
  const src = join(C_DIR, `${name}.c`);
  const out = join(BIN, name);
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    if (!Bun.which("gcc")) throw new Error("gcc is needed to build the C workloads: apt-get install gcc");
    await run(["gcc", "-O2", "-Wall", "-o", out, src, ...libs]);
  }
  return out;
}

/** Returns the path of a Debian tool, installing its package with apt-get if it is missing. */
export async function debianTool(tool: string, pkg: string): Promise<string> {
  let path = Bun.which(tool);
  if (path) return path;
  console.error(`bench: ${tool} is missing; installing the Debian package ${pkg} (apt-get install -y ${pkg})`);
  const r = await run(["apt-get", "install", "-y", "--no-install-recommends", pkg], { allowFail: true });
  path = Bun.which(tool);
  if (!path) throw new Error(`${tool} not found and 'apt-get install ${pkg}' failed (${r.stderr.trim().slice(-300)}); install it by hand`);
  return path;
}

const CLK_TCK = 100; // USER_HZ: /proc/<pid>/stat counts in 1/100 s on Linux

/** CPU time (user + system, all threads) a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields 14 and 15 of stat are the 12th and 13th after the state
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process in MiB, from /proc/<pid>/status. */
export interface Memory {
  /** VmRSS */
  readonly rssMiB: number;
  /** VmHWM: the peak of VmRSS */
  readonly hwmMiB: number;
  /** RssAnon: heap, stacks, JIT code */
  readonly anonMiB: number;
  /** RssFile: pages of mapped files (mostly the 100 MB executable), shared and reclaimable */
  readonly fileMiB: number;
}

export function memory(pid: number): Memory {
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {}
  const mib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rssMiB: mib("VmRSS"), hwmMiB: mib("VmHWM"), anonMiB: mib("RssAnon"), fileMiB: mib("RssFile") };
}

/**
 * Resident memory by kind of mapping, from /proc/<pid>/smaps: the BPF ring buffer is
 * mapped as anon_inode:bpf-map with its data pages twice (libbpf maps them back to back
 * so a record that wraps reads contiguously), all resident from the start and counted
 * in VmRSS and RssFile although they are the kernel's memory (bytes_memlock) shown twice;
 * the executable's pages are file pages shared with the page cache.
 */
export interface MemorySplit {
  /** Rss of the anon_inode:bpf-map mappings (the ring, double-mapped, plus its control pages) */
  readonly bpfMapRssMiB: number;
  /** their Pss: each page mapped twice counts half, so this is the ring's memory once */
  readonly bpfMapPssMiB: number;
  /** Rss of mappings of the executable itself */
  readonly exeRssMiB: number;
  /** Rss of other file mappings (shared libraries, the extracted shim) */
  readonly libRssMiB: number;
  /** Rss of anonymous memory (heap, JIT, stacks) */
  readonly anonRssMiB: number;
}

export function memorySplit(pid: number): MemorySplit {
  let smaps = "";
  let exe = "";
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, "utf8");
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {}
  let bpf = 0;
  let bpfPss = 0;
  let exeRss = 0;
  let lib = 0;
  let anon = 0;
  let name = "";
  for (const line of smaps.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1]!.trim();
      continue;
    }
    const kv = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!kv) continue;
    const kb = Number(kv[2]);
    if (kv[1] === "Pss" && name.startsWith("anon_inode:bpf-map")) bpfPss += kb;
    if (kv[1] === "Anonymous") anon += kb;
    if (kv[1] !== "Rss") continue;
    if (name.startsWith("anon_inode:bpf-map")) {
      bpf += kb;
    } else if (name === exe) exeRss += kb;
    else if (name.startsWith("/")) lib += kb;
  }
  return {
    bpfMapRssMiB: bpf / 1024,
    bpfMapPssMiB: bpfPss / 1024,
    exeRssMiB: exeRss / 1024,
    libRssMiB: lib / 1024,
    anonRssMiB: anon / 1024,
  };
}

/** User and system CPU seconds of a process so far. */
export function cpuSplit(pid: number): { user: number; sys: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
  } catch {
    return { user: Number.NaN, sys: Number.NaN };
  }
}

/** Busy and total CPU jiffies of the whole machine, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** BPF objects a process holds open, from /proc/<pid>/fdinfo. */
export interface HeldObjects {
  readonly mapIds: Set<number>;
  readonly progIds: Set<number>;
  /** per program: cumulated run time and runs (counted only while bpf_stats is on) */
  readonly progStats: Map<number, { runTimeNs: number; runCnt: number; memlock: number; verifiedInsns: number }>;
}

export function heldObjects(pid: number): HeldObjects {
  const held: HeldObjects = { mapIds: new Set(), progIds: new Set(), progStats: new Map() };
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return held;
  }
  for (const fd of fds) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    } catch {
      continue;
    }
    const field = (key: string): number | undefined => {
      const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info);
      return m ? Number(m[1]) : undefined;
    };
    const mapId = field("map_id");
    if (mapId !== undefined) held.mapIds.add(mapId);
    const progId = field("prog_id");
    if (progId !== undefined && field("link_id") === undefined) {
      held.progIds.add(progId);
      held.progStats.set(progId, {
        runTimeNs: field("run_time_ns") ?? 0,
        runCnt: field("run_cnt") ?? 0,
        memlock: field("memlock") ?? 0,
        verifiedInsns: field("verified_insns") ?? 0,
      });
    } else if (progId !== undefined) {
      held.progIds.add(progId);
    }
  }
  return held;
}

interface BpftoolProg {
  id: number;
  name?: string;
  type: string;
  map_ids?: number[];
  bytes_memlock?: number;
  bytes_jited?: number;
  run_time_ns?: number;
  run_cnt?: number;
}
interface BpftoolMap {
  id: number;
  name?: string;
  type: string;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  flags: number;
  bytes_memlock: number;
}

export async function bpftoolProgs(): Promise<BpftoolProg[]> {
  return JSON.parse((await run(["bpftool", "-j", "prog", "show"])).stdout) as BpftoolProg[];
}

export async function bpftoolMaps(): Promise<BpftoolMap[]> {
  return JSON.parse((await run(["bpftool", "-j", "map", "show"])).stdout) as BpftoolMap[];
}

/** The kflowd dispatcher's name as bpftool shows it (BPF names keep 15 characters). */
const KFLOWD_PROG = "sys_enter__file";

/**
 * kflowd programs loaded by anyone but the given processes (tests or agents run by other
 * people on this shared machine): they would add their cost to our baseline.
 */
export async function foreignAgents(ownPids: readonly number[] = []): Promise<number> {
  const own = new Set<number>();
  for (const pid of ownPids) for (const id of heldObjects(pid).progIds) own.add(id);
  try {
    return (await bpftoolProgs()).filter((p) => p.name === KFLOWD_PROG && !own.has(p.id)).length;
  } catch {
    return 0;
  }
}

/** total time quiesce() may still wait in this invocation */
let patienceMs = 30_000;

/**
 * Waits (up to maxMs, and up to 30 s per invocation in all) until no foreign kflowd is
 * attached; returns how many still are. Used before every baseline sample.
 */
export async function quiesce(maxMs = 10_000): Promise<number> {
  const deadline = Date.now() + Math.min(maxMs, patienceMs);
  const t0 = Date.now();
  let n = await foreignAgents();
  while (n > 0 && Date.now() < deadline) {
    await sleep(1000);
    n = await foreignAgents();
  }
  patienceMs -= Date.now() - t0;
  return n;
}

/** kflowd processes running now (comm "kflowd"), with their command lines. */
export function kflowdProcesses(): { pid: number; args: string }[] {
  const out: { pid: number; args: string }[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() !== "kflowd") continue;
      out.push({ pid: Number(d), args: readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ").trim() });
    } catch {}
  }
  return out;
}

export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}
