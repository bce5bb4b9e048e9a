/**
 * The start-up self-test: once the programs are attached, a canary child of the agent
 * (ffi/canary.c) does once what each feature must see, in a private directory, and the
 * records of that process are checked here instead of being printed. A check that fails
 * names its feature, which is then reported degraded.
 */
import { ptr } from "bun:ffi";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Shim } from "../ffi/shim.ts";
import { errnoText } from "../ffi/errors.ts";
import type { Monitor } from "./config.ts";
import type { FeatureTier } from "./kernel.ts";
import type { FileRecord } from "./records/file.ts";
import { FsEvent, SockRole } from "./records/layout.gen.ts";
import { AF_UNIX, IPPROTO_TCP, IPPROTO_UDP } from "./records/net.ts";
import type { SockRecord } from "./records/sock.ts";

/** The canary's steps, in ffi/canary.c's order (enum canary_step). */
const CANARY_STEPS = ["create", "read", "chmod", "rename", "link", "symlink", "unlink", "tcp", "udp", "unix", "uring"] as const;
type Step = (typeof CANARY_STEPS)[number];

/** The names the canary gives its files, relative to its directory. */
const NAMES = {
  file: "canary",
  renamed: "canary.renamed",
  link: "canary.link",
  symlink: "canary.symlink",
  uring: "canary.uring",
} as const;

/** io_uring_setup's errors where the kernel has no io_uring to use (not built in, or turned off): nothing to check */
const ENOSYS = 38;
const EPERM = 1;

/** bytes the canary sends in each socket step */
const PAYLOAD = 6;

/** What the canary's records must show, per step. */
interface Check {
  readonly step: Step;
  readonly feature: string;
  /** what was done, as the banner names it */
  readonly what: string;
  /** undefined when the records show it, else what is missing */
  readonly missing: (seen: Seen) => string | undefined;
}

/** The canary's records so far. */
interface Seen {
  readonly dir: string;
  readonly files: readonly FileRecord[];
  readonly socks: readonly SockRecord[];
}

const at = (s: Seen, name: string) => `${s.dir}/${name}`;

/** The first event of events that no record of path shows, as "EVENT at path". */
function fileMissing(s: Seen, name: string, events: readonly (keyof typeof FsEvent)[]): string | undefined {
  const path = at(s, name);
  const recs = s.files.filter((f) => f.path === path);
  if (recs.length === 0) return `no record named ${path}`;
  const lacking = events.find((e) => !recs.some((r) => (r.eventCounts[FsEvent[e]] ?? 0) > 0));
  return lacking && `no ${lacking.replace(/^FS_/, "")} at ${path}`;
}

function sockMissing(s: Seen, what: string, ok: (r: SockRecord) => boolean): string | undefined {
  return s.socks.some(ok) ? undefined : `no ${what}`;
}

const CHECKS: readonly Check[] = [
  {
    step: "create",
    feature: "file",
    what: "create, write, close",
    missing: (s) => fileMissing(s, NAMES.file, ["FS_CREATE", "FS_MODIFY", "FS_CLOSE_WRITE"]),
  },
  { step: "read", feature: "file", what: "read", missing: (s) => fileMissing(s, NAMES.file, ["FS_ACCESS", "FS_CLOSE_NOWRITE"]) },
  {
    step: "chmod",
    feature: "file",
    what: "chmod",
    // aggregated with the rename that follows it, under either name
    missing: (s) => (fileMissing(s, NAMES.file, ["FS_ATTRIB"]) && fileMissing(s, NAMES.renamed, ["FS_ATTRIB"])) || undefined,
  },
  {
    step: "rename",
    feature: "file",
    what: "rename",
    missing: (s) => fileMissing(s, NAMES.renamed, ["FS_MOVED_FROM", "FS_MOVED_TO"]),
  },
  { step: "link", feature: "file", what: "link", missing: (s) => fileMissing(s, NAMES.link, ["FS_CREATE"]) },
  { step: "symlink", feature: "file", what: "symlink", missing: (s) => fileMissing(s, NAMES.symlink, ["FS_CREATE"]) },
  {
    step: "unlink",
    feature: "file",
    what: "unlink",
    missing: (s) =>
      fileMissing(s, NAMES.link, ["FS_DELETE"]) ??
      fileMissing(s, NAMES.symlink, ["FS_DELETE"]) ??
      fileMissing(s, NAMES.renamed, ["FS_DELETE"]),
  },
  {
    step: "tcp",
    feature: "socket",
    what: "TCP connection",
    missing: (s) =>
      sockMissing(
        s,
        "TCP client record",
        (r) => r.proto === IPPROTO_TCP && r.role === SockRole.SOCK_ROLE_CLIENT && r.tx.bytes >= PAYLOAD,
      ) ??
      sockMissing(s, "TCP server record", (r) => r.proto === IPPROTO_TCP && r.role === SockRole.SOCK_ROLE_SERVER && r.rx.bytes >= PAYLOAD),
  },
  {
    step: "udp",
    feature: "socket",
    what: "UDP datagram",
    missing: (s) => sockMissing(s, "UDP record", (r) => r.proto === IPPROTO_UDP && r.tx.bytes >= PAYLOAD && r.rx.bytes >= PAYLOAD),
  },
  {
    step: "unix",
    feature: "socket",
    what: "UNIX datagram",
    missing: (s) =>
      sockMissing(s, "UNIX sender record", (r) => r.family === AF_UNIX && r.tx.bytes >= PAYLOAD) ??
      sockMissing(s, "UNIX receiver record", (r) => r.family === AF_UNIX && r.rx.bytes >= PAYLOAD),
  },
  { step: "uring", feature: "io_uring", what: "io_uring write", missing: (s) => fileMissing(s, NAMES.uring, ["FS_MODIFY"]) },
];

/** One check that failed. */
export interface SelfTestFailure {
  readonly feature: string;
  readonly what: string;
  readonly why: string;
}

export interface SelfTestResult {
  readonly passed: number;
  readonly total: number;
  readonly failures: readonly SelfTestFailure[];
  readonly ms: number;
}

/** The checks the configuration and the attached hooks call for. */
function checksFor(monitor: Monitor, features: readonly FeatureTier[]): Check[] {
  const tcpUdp = features.some((f) => f.feature === "socket" && f.programs.includes("cgroup_skb__egress"));
  // io_uring is checked where its requests are monitored: a degraded kernel says so in the banner already
  const uring = features.some((f) => f.feature === "io_uring" && f.tier === "uring-tracepoints" && !f.degraded);
  return CHECKS.filter((c) =>
    c.feature === "file"
      ? monitor.file
      : c.feature === "io_uring"
        ? monitor.file && uring
        : monitor.socket && (c.step === "unix" || tcpUdp),
  );
}

export class SelfTest {
  private pid = 0;
  /** start of the canary's thread group: tells it apart from a later process with its PID */
  private startNs: bigint | undefined;
  private running = false;
  private readonly files: FileRecord[] = [];
  private readonly socks: SockRecord[] = [];

  constructor(
    private readonly shim: Shim,
    private readonly monitor: Monitor,
    private readonly features: readonly FeatureTier[],
  ) {}

  private owns(pid: number, startNs: bigint): boolean {
    if (pid !== this.pid || pid === 0) return false;
    // while the test runs the canary holds its PID (it is reaped only then)
    if (this.running) this.startNs ??= startNs;
    return startNs === this.startNs;
  }

  /** Whether rec is the canary's (then it is kept here, never printed). */
  claimsFile(rec: FileRecord): boolean {
    if (!this.owns(rec.task.pid, rec.task.startNs)) return false;
    if (this.running) this.files.push(rec);
    return true;
  }

  claimsSock(rec: SockRecord): boolean {
    if (!this.owns(rec.task.pid, rec.task.startNs)) return false;
    if (this.running) this.socks.push(rec);
    return true;
  }

  /**
   * Runs the canary and checks its records, calling pump to move them from the kernel
   * (the ring buffer, and the files of ended processes) until every check passes or
   * deadlineMs has passed.
   */
  async run(pump: () => void, deadlineMs: number): Promise<SelfTestResult> {
    const started = performance.now();
    const checks = checksFor(this.monitor, this.features);
    const dir = mkdtempSync(`${tmpdir()}/kflowd-selftest-`);
    const failures: SelfTestFailure[] = [];
    try {
      const names = Buffer.from(`${NAMES.file}\0${NAMES.renamed}\0${NAMES.link}\0${NAMES.symlink}\0${NAMES.uring}\0`);
      const pid = new Int32Array(1);
      const errs = new Int32Array(CANARY_STEPS.length);
      this.running = true;
      const err = this.shim.kf_canary(ptr(Buffer.from(`${dir}\0`)), ptr(names), ptr(pid), ptr(errs));
      if (err < 0) {
        const why = `the canary could not be started: ${errnoText(-err)}`;
        return { passed: 0, total: checks.length, failures: checks.map((c) => ({ ...c, why })), ms: performance.now() - started };
      }
      this.pid = pid[0]!;
      const seen: Seen = { dir, files: this.files, socks: this.socks };
      const stepError = (c: Check) => errs[CANARY_STEPS.indexOf(c.step)]!;
      // a kernel without a usable io_uring: no activity through it can happen, so there is nothing to check
      const absent = (c: Check) => c.step === "uring" && (stepError(c) === ENOSYS || stepError(c) === EPERM);
      checks.splice(0, checks.length, ...checks.filter((c) => !absent(c)));
      let open = checks.filter((c) => stepError(c) === 0);
      for (const c of checks.filter((c) => stepError(c) !== 0)) {
        failures.push({ feature: c.feature, what: c.what, why: `the canary's own calls failed: ${errnoText(stepError(c))}` });
      }
      for (;;) {
        pump();
        open = open.filter((c) => c.missing(seen) !== undefined);
        if (open.length === 0 || performance.now() - started > deadlineMs) break;
        await Bun.sleep(2);
      }
      for (const c of open) failures.push({ feature: c.feature, what: c.what, why: c.missing(seen)! });
    } finally {
      this.running = false;
      this.files.length = 0;
      this.socks.length = 0;
      rmSync(dir, { recursive: true, force: true });
    }
    return { passed: checks.length - failures.length, total: checks.length, failures, ms: performance.now() - started };
  }
}

/** The banner's line: "self-test: N/N passed in M ms", or each failed check. */
export function selfTestText(r: SelfTestResult): string {
  const head = `self-test: ${r.passed}/${r.total} passed in ${Math.round(r.ms)} ms`;
  if (r.failures.length === 0) return head;
  return `${head}; failed: ${r.failures.map((f) => `${f.what} (${f.feature}: ${f.why})`).join("; ")}`;
}
