/**
 * Opens, configures, loads and attaches the kernel side. The programs come in groups
 * that serve one feature together; the running kernel is probed once (probeKernel) and
 * the best groups it offers are loaded. Only the syscall programs are essential. When
 * any other group fails to load or attach (a verifier that got stricter, a hook the
 * kernel lacks), the object is opened again without it, its fallback if it has one, and
 * the feature is reported degraded with the reason.
 */
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { BpfObject, loadFailure } from "../ffi/bpf.ts";
import { kernelTracepoints, type TracepointArg, tracepointArgs } from "../ffi/btf.ts";
import { kernelCgroupTaskBtf, kernelTracingSocketCookie } from "../ffi/insn-probe.ts";
import { unescapeMountField } from "./mountinfo.ts";
import { BpfError } from "../ffi/errors.ts";
import type { Libbpf } from "../ffi/libbpf.ts";
import type { Shim } from "../ffi/shim.ts";
import { kernelConfigText, kernelHz } from "./kernel-config.ts";
import type { AppPorts } from "./app-ports.ts";
import type { Monitor } from "./config.ts";
import { AppLimits, AppPort, InodeTier, KfConfig, MonitorFlags, RecKernelValues, RecLimits } from "./records/layout.gen.ts";

export interface KernelOptions {
  /** the agent's own tgid, never reported */
  readonly agentPid: number;
  /** ring buffer size in bytes (a power of two, multiple of the page size) */
  readonly ringBytes: number;
  /** most file aggregations open at once */
  readonly fileEntries: number;
  /** most sockets tracked at once */
  readonly sockEntries: number;
  /** -e: export a file record after this many events, 0 = off */
  readonly eventsMax: number;
  /** -p: where application messages are captured */
  readonly apps: AppPorts;
  /** bytes captured per application message */
  readonly appBytes: number;
  /** -m: what is monitored */
  readonly monitor: Monitor;
  /** Test only: programs the verifier is made to reject (BpfObject.spoil), to prove the fallback. */
  readonly breakPrograms?: readonly string[];
}

/** Which hooks serve a feature on this kernel. */
export interface FeatureTier {
  readonly feature: string;
  /** the set of hooks chosen, e.g. "syscall-tracepoints" */
  readonly tier: string;
  readonly programs: readonly string[];
  /** what is missing and why, if anything */
  readonly degraded?: string;
}

export interface KernelSession {
  readonly object: BpfObject;
  readonly features: readonly FeatureTier[];
  /** how many times the object was opened (1 unless something had to be turned off) */
  readonly attempts: number;
  /** the attached programs' descriptors, by name */
  readonly programs: ReadonlyMap<string, number>;
  /** the loaded rescuers, by the program whose skipped events they take */
  readonly rescuers: ReadonlyMap<string, string>;
}

/** What the running kernel and host offer, probed once before anything is loaded. */
export interface KernelProbe {
  /** the multigrain inode ctime tracepoints (6.13+): inodes of path operations */
  readonly ctime: boolean;
  /** kprobes can be created (CONFIG_KPROBES) */
  readonly kprobes: boolean;
  /** mount point of the cgroup v2 hierarchy */
  readonly cgroup2?: string;
  /** tp_btf programs may call bpf_get_socket_cookie() on the tracepoint's socket (5.12+) */
  readonly tracingCookie: boolean;
  /** cgroup socket programs may call bpf_get_current_task_btf() (~6.10+): identities by plain loads */
  readonly taskBtf?: boolean;
  /** how the io_uring tracepoints hand over requests and results, if they do (6.0+) */
  readonly uring?: UringLayout;
}

/**
 * The io_uring tracepoints' layouts: the submission under its name since 6.5
 * (io_uring_submit_req, the request) or before (io_uring_submit_sqe: the request and
 * force_nonblock, 6.0 .. 6.4); the completion with the request and the CQE (Debian's 6.18
 * and 7.x) or with the request and the result as arguments (5.18 .. 6.12). Older kernels
 * (5.10: opcode and user_data only) give no request to read.
 */
export type UringLayout = "req-cqe" | "req-res" | "sqe-res";

const URING_TRACEPOINTS = ["io_uring_submit_req", "io_uring_submit_sqe", "io_uring_complete"];

/** The io_uring layout of a kernel whose tracepoints have these arguments, if it is one the programs read. */
export function uringLayout(args: ReadonlyMap<string, readonly TracepointArg[]>): UringLayout | undefined {
  const complete = args.get("io_uring_complete");
  const req = args.get("io_uring_submit_req");
  const sqe = args.get("io_uring_submit_sqe");
  const submit = req?.length === 1 && req[0] === "pointer" ? "req" : sqe?.length === 2 && sqe[0] === "pointer" ? "sqe" : undefined;
  // (ctx, req, cqe), or (ctx, req, user_data, res, cflags[, extra1, extra2])
  const done =
    complete?.length === 3 && complete.every((a) => a === "pointer")
      ? "cqe"
      : complete && complete.length >= 5 && complete[1] === "pointer" && complete[3] === "other"
        ? "res"
        : undefined;
  if (submit === "req" && done) return `req-${done}`;
  if (submit === "sqe" && done === "res") return "sqe-res";
  return undefined;
}

const CTIME_TRACEPOINTS = ["inode_set_ctime_to_ts", "ctime_xchg_skip", "ctime_ns_xchg"];

/**
 * The cgroup v2 hierarchy's first mount in a mountinfo text: its mount point, and the
 * directory of the hierarchy mounted there ("/" unless mounted from inside a cgroup
 * namespace or below the root).
 */
export function cgroup2MountInfo(mountinfo: string): { readonly mount: string; readonly root: string } | undefined {
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash > 0 && fields[dash + 1] === "cgroup2") return { root: unescapeMountField(fields[3]!), mount: unescapeMountField(fields[4]!) };
  }
  return undefined;
}

/** Mount point of the cgroup v2 hierarchy, from a mountinfo text. */
export function cgroup2Mount(mountinfo: string): string | undefined {
  return cgroup2MountInfo(mountinfo)?.mount;
}

/** Every question about the kernel the loader asks, in one place: capabilities, not release numbers. */
export function probeKernel(lib: Libbpf): KernelProbe {
  return {
    ctime: kernelTracepoints(lib, CTIME_TRACEPOINTS).size === CTIME_TRACEPOINTS.length,
    kprobes: existsSync("/sys/bus/event_source/devices/kprobe"),
    cgroup2: cgroup2Mount(readFileSync("/proc/self/mountinfo", "utf8")),
    tracingCookie: kernelTracingSocketCookie(lib),
    taskBtf: kernelCgroupTaskBtf(lib),
    uring: uringLayout(tracepointArgs(lib, URING_TRACEPOINTS)),
  };
}

/** Programs that serve one feature together: loaded, attached and turned off as one. */
export interface Hooks {
  readonly feature: string;
  readonly tier: string;
  readonly programs: readonly string[];
  /** attached to the root of the cgroup v2 hierarchy rather than by section */
  readonly cgroup?: true;
  /** an iterator, run once after everything else is attached */
  readonly once?: true;
  /** without them there is nothing to report: failing to load or attach them is fatal */
  readonly essential?: true;
  /** what the records lack without them */
  readonly without: string;
  /** what the kernel must offer for them */
  readonly needs?: readonly ("ctime" | "kprobes" | "cgroup2" | "tracingCookie")[];
  /** the io_uring tracepoints' layout they read */
  readonly uring?: UringLayout;
  /** what serves the feature instead when they fail or the kernel lacks what they need */
  readonly fallback?: readonly Hooks[];
  /**
   * a program's rescuer (bpf/rescue.bpf.h), by the program: loaded with the group,
   * attached only once the kernel is seen skipping that program's events (src/rescue.ts)
   */
  readonly rescuers?: Readonly<Record<string, string>>;
}

/** A group's programs and their rescuers: everything it loads. */
function loaded(h: Hooks): string[] {
  return [...h.programs, ...Object.values(h.rescuers ?? {})];
}

/** File activity through descriptors, and UNIX sockets and application messages: every kernel with BTF. */
export const SYSCALL_HOOKS: Hooks = {
  feature: "file",
  tier: "syscall-tracepoints",
  programs: ["sys_enter__file", "sys_exit__file_event"],
  rescuers: { sys_enter__file: "sys_enter__rescue", sys_exit__file_event: "sys_exit__rescue" },
  essential: true,
  without: "nothing can be monitored",
};
const EXEC_HOOKS: Hooks = {
  feature: "file",
  tier: "exec-tracepoint",
  programs: ["sched_process_exec__open_exec"],
  without: "OPEN_EXEC of the programs and scripts run is not reported",
};
const EXIT_HOOKS: Hooks = {
  feature: "file",
  tier: "exit-tracepoint",
  programs: ["sched_process_exit__flush"],
  without: "files a process leaves open are printed after the idle timeout instead of when it ends",
};
const NO_INODE = "path operations (rm, mv, ln, chmod, ...) are reported without inode data";
const KPROBE_HOOKS: Hooks = {
  feature: "file-inode",
  tier: "kprobes",
  programs: [
    "security_inode_unlink__path_op",
    "security_inode_rename__path_op",
    "security_inode_link__path_op",
    "d_instantiate__path_op",
    "d_instantiate_new__path_op",
    "security_inode_setattr__path_op",
    "security_inode_setxattr__path_op",
    "security_inode_removexattr__path_op",
    "security_bprm_check__open_exec",
  ],
  needs: ["kprobes"],
  without: NO_INODE,
};
/** Inodes of path operations from the multigrain ctime tracepoints (6.13+). */
const CTIME_HOOKS: Hooks = {
  feature: "file-inode",
  tier: "ctime-tracepoints",
  programs: CTIME_TRACEPOINTS.map((t) => `${t}__path_op`),
  needs: ["ctime"],
  without: NO_INODE,
  fallback: [KPROBE_HOOKS],
};
/** Packets per socket on the cgroup v2 root. */
const PACKET_HOOKS: Hooks = {
  feature: "socket",
  tier: "cgroup-hooks",
  programs: ["cgroup_skb__egress", "cgroup_skb__ingress"],
  cgroup: true,
  needs: ["cgroup2"],
  without: "TCP and UDP are not monitored (UNIX sockets are)",
};
/** The processes that create, connect and bind sockets (process context). */
const OWNER_HOOKS: Hooks = {
  feature: "socket",
  tier: "owner-hooks",
  programs: ["sock_create__owner", "connect4__owner", "connect6__owner", "bind4__owner", "bind6__owner"],
  cgroup: true,
  needs: ["cgroup2"],
  without: "a TCP or UDP socket gets its process from the first read or write of it",
};
const RELEASE_HOOKS: Hooks = {
  feature: "socket",
  tier: "release-hook",
  programs: ["sock_release__export"],
  cgroup: true,
  needs: ["cgroup2"],
  without: "a UDP record is printed after the idle timeout instead of when its socket is closed",
};
/** Fallback of STATE_HOOKS: the established connections from sockops (every cgroup v2 kernel). */
const SOCKOPS_HOOKS: Hooks = {
  feature: "socket",
  tier: "sockops",
  programs: ["sockops__tcp"],
  cgroup: true,
  needs: ["cgroup2"],
  without: "the handshake of an accepted connection is not counted, its role comes from its ports",
};
/** Fallback of STATE_HOOKS: the state tracepoint finishing records only. */
const STATE_EXPORT_HOOKS: Hooks = {
  feature: "socket",
  tier: "state-tracepoint",
  programs: ["inet_sock_set_state__export"],
  // it finishes records the cgroup hooks make
  needs: ["cgroup2"],
  without: "a TCP record is printed after the idle timeout instead of when the connection closes",
};
/**
 * TCP state changes: connections established (role, the server side's handshake) and
 * closed, in one program on inet_sock_set_state; where tracing programs cannot make a
 * socket cookie (before 5.12) sockops and the close-only program do it, at a sockops
 * run per TCP callback (about 9 per connection).
 */
const STATE_HOOKS: Hooks = {
  feature: "socket",
  tier: "state-tracepoint",
  programs: ["inet_sock_set_state__tcp"],
  needs: ["cgroup2", "tracingCookie"],
  without: "TCP records are finished by the close-only program and sockops (a run per TCP callback)",
  fallback: [STATE_EXPORT_HOOKS, SOCKOPS_HOOKS],
};
const FRAG_HOOKS: Hooks = {
  feature: "socket",
  tier: "fragment-tracepoint",
  programs: ["netif_receive_skb__frags"],
  needs: ["cgroup2"],
  without: "SockRxPacketsFrag is not counted",
};
/** Owners of the sockets open before the agent. */
export const ITERATOR_HOOKS: Hooks = {
  feature: "socket-existing",
  tier: "task-file-iterator",
  programs: ["iter_task_file__existing"],
  once: true,
  // the owners it finds are taken by the packet hooks
  needs: ["cgroup2"],
  without: "a socket open before the start is reported with the first process that reads or writes it, without one until then",
};

const URING_WITHOUT = "file and socket activity through io_uring is not seen; processes that set up rings are counted";
const uringHooks = (layout: UringLayout, programs: readonly string[]): Hooks => ({
  feature: "io_uring",
  tier: "uring-tracepoints",
  programs,
  uring: layout,
  without: URING_WITHOUT,
});
/** io_uring requests, read at submission and completion, one group per tracepoint layout. */
const URING_HOOKS: readonly Hooks[] = [
  uringHooks("req-cqe", ["io_uring_submit_req__uring", "io_uring_complete__cqe"]),
  uringHooks("req-res", ["io_uring_submit_req__uring", "io_uring_complete__res"]),
  uringHooks("sqe-res", ["io_uring_submit_sqe__uring", "io_uring_complete__res"]),
];

/** Every group the object has, in the order they are attached; a feature's first one names its tier. */
const ALL_HOOKS: readonly Hooks[] = [
  SYSCALL_HOOKS,
  EXEC_HOOKS,
  EXIT_HOOKS,
  CTIME_HOOKS,
  KPROBE_HOOKS,
  PACKET_HOOKS,
  OWNER_HOOKS,
  RELEASE_HOOKS,
  STATE_HOOKS,
  STATE_EXPORT_HOOKS,
  SOCKOPS_HOOKS,
  FRAG_HOOKS,
  ITERATOR_HOOKS,
  ...URING_HOOKS,
];

/** Per feature, the groups that name its tier, best first; without any it is degraded. */
const PRIMARY: Record<string, readonly Hooks[]> = {
  file: [SYSCALL_HOOKS],
  "file-inode": [CTIME_HOOKS, KPROBE_HOOKS],
  socket: [PACKET_HOOKS],
  "socket-existing": [ITERATOR_HOOKS],
  io_uring: URING_HOOKS,
};

/** A feature's tier when none of its primary groups is active. */
const TIER_WITHOUT: Record<string, string> = { "socket-existing": "first-read-or-write", io_uring: "setup-counted" };

const FILE_FEATURES = ["file", "file-inode"];

/** Whether the kernel offers what the group needs. */
function available(h: Hooks, probe: KernelProbe): boolean {
  return (h.needs ?? []).every((n) => Boolean(probe[n])) && (h.uring === undefined || h.uring === probe.uring);
}

/** The groups this configuration wants and this kernel can have: the best of each kind. */
export function wantedHooks(monitor: Monitor, probe: KernelProbe): Hooks[] {
  const fallbacks = new Set(ALL_HOOKS.flatMap((h) => (h.fallback && available(h, probe) ? h.fallback : [])));
  return ALL_HOOKS.filter(
    (h) =>
      (h.essential || h.feature === "io_uring" || (FILE_FEATURES.includes(h.feature) ? monitor.file : monitor.socket)) &&
      available(h, probe) &&
      !fallbacks.has(h),
  );
}

/** A group that failed, and the reason in one line. */
interface Failure {
  readonly hooks: Hooks;
  readonly reason: string;
}

/** The .rodata image: the configuration and which fallbacks the kernel side must serve. */
function configBytes(opts: KernelOptions, active: readonly Hooks[], probe: KernelProbe): Uint8Array {
  const bytes = new Uint8Array(KfConfig.SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(KfConfig.agentPid, opts.agentPid, true);
  view.setUint32(KfConfig.eventsMax, opts.eventsMax, true);
  view.setUint32(KfConfig.hz, kernelHz(kernelConfigText()), true);
  view.setUint32(KfConfig.appCap, opts.appBytes, true);
  view.setUint32(
    KfConfig.monitor,
    (opts.monitor.file ? MonitorFlags.MONITOR_FILE : 0) | (opts.monitor.socket ? MonitorFlags.MONITOR_SOCKET : 0),
    true,
  );
  view.setUint32(KfConfig.appUnixSyslog, opts.apps.unixSyslog ? 1 : 0, true);
  // without the iterator or the owner hooks, sockets without an owner go to the first process using them
  const claimByIo = opts.monitor.socket && !(active.includes(ITERATOR_HOOKS) && active.includes(OWNER_HOOKS));
  view.setUint32(KfConfig.sockClaimIo, claimByIo ? 1 : 0, true);
  view.setUint32(KfConfig.uring, active.some((h) => h.feature === "io_uring") ? 1 : 0, true);
  view.setUint32(KfConfig.taskBtf, probe.taskBtf ? 1 : 0, true);
  // a state program finishes TCP records at TCP_CLOSE: sock_release leaves TCP sockets not closed yet to it
  view.setUint32(KfConfig.tcpCloseHook, active.includes(STATE_HOOKS) || active.includes(STATE_EXPORT_HOOKS) ? 1 : 0, true);
  const ports = opts.apps.ports.slice(0, AppLimits.APP_PORTS_MAX);
  view.setUint32(KfConfig.nappPorts, ports.length, true);
  ports.forEach((p, i) => {
    const at = KfConfig.appPorts + i * AppPort.SIZE;
    view.setUint16(at + AppPort.port, p.port, true);
    view.setUint8(at + AppPort.proto, p.proto === "tcp" ? RecKernelValues.REC_IPPROTO_TCP : RecKernelValues.REC_IPPROTO_UDP);
    view.setUint8(at + AppPort.app, p.app);
  });
  return bytes;
}

function openConfigured(
  lib: Libbpf,
  shim: Shim,
  bytes: Uint8Array,
  opts: KernelOptions,
  active: readonly Hooks[],
  probe: KernelProbe,
): BpfObject {
  const object = BpfObject.open(lib, shim, bytes);
  try {
    object.setReadOnlyData(configBytes(opts, active, probe));
    object.setMaxEntries("ring", opts.ringBytes);
    object.setMaxEntries("files", opts.fileEntries);
    object.setMaxEntries("socks", opts.sockEntries);
    // one claim per scratch slot of each CPU (bpf/scratch.bpf.h)
    object.setMaxEntries("scratch_claims", lib.libbpf_num_possible_cpus() * RecLimits.REC_SCRATCH_SLOTS);
    const on = new Set(active.flatMap(loaded));
    for (const h of ALL_HOOKS) for (const p of loaded(h)) object.setAutoload(p, on.has(p));
    for (const p of opts.breakPrograms ?? []) if (on.has(p)) object.spoil(p);
    return object;
  } catch (e) {
    object.close();
    throw e;
  }
}

class AttachFailure extends Error {
  constructor(
    readonly hooks: Hooks,
    readonly error: BpfError,
  ) {
    super(error.message);
  }
}

/** Attaches the active groups (iterators last, once the hooks see new sockets). */
function attachAll(object: BpfObject, active: readonly Hooks[], cgroup2: string | undefined): void {
  const cgroupFd = active.some((h) => h.cgroup) && cgroup2 ? openSync(cgroup2, "r") : undefined;
  try {
    for (const h of active.filter((g) => !g.once)) {
      try {
        object.attach(h.programs, h.cgroup ? cgroupFd : undefined);
      } catch (e) {
        throw e instanceof BpfError ? new AttachFailure(h, e) : e;
      }
    }
  } finally {
    if (cgroupFd !== undefined) closeSync(cgroupFd);
  }
  for (const h of active.filter((g) => g.once)) {
    try {
      for (const p of h.programs) object.runIterator(p);
    } catch (e) {
      throw e instanceof BpfError ? new AttachFailure(h, e) : e;
    }
  }
}

/** Tells the kernel side which inode source is attached. */
function setInodeTier(object: BpfObject, active: readonly Hooks[]): void {
  const code = active.includes(CTIME_HOOKS)
    ? InodeTier.INODE_TIER_CTIME
    : active.includes(KPROBE_HOOKS)
      ? InodeTier.INODE_TIER_KPROBE
      : InodeTier.INODE_TIER_NONE;
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(0, code, true);
  object.updateMap("inode_tier", new Uint8Array(4), value);
}

/**
 * 32-bit programs: their calls (ia32 on x86_64, arm32 on arm64) are told apart and read
 * through the compat tables by the syscall programs; x32 calls are counted only.
 */
const COMPAT_TIER: FeatureTier = {
  feature: "file-32bit",
  tier: "compat-tables",
  programs: [process.arch === "arm64" ? "arm32 calls decoded" : "ia32 calls decoded, x32 counted"],
};

/** What the banner says per feature: the groups serving it and what failed or is missing. */
function featureRows(monitor: Monitor, probe: KernelProbe, active: readonly Hooks[], failed: readonly Failure[]): FeatureTier[] {
  const row = (feature: string, missing: string): FeatureTier => {
    const groups = ALL_HOOKS.filter((h) => h.feature === feature && active.includes(h));
    const main = PRIMARY[feature]?.find((h) => active.includes(h));
    const problems = failed
      .filter((f) => f.hooks.feature === feature)
      .map((f) => `${f.hooks.programs.join(", ")} failed (${f.reason}): ${f.hooks.without}`);
    if (!main && problems.length === 0) problems.push(missing);
    return {
      feature,
      tier: main?.tier ?? TIER_WITHOUT[feature] ?? "none",
      programs: groups.flatMap((h) => h.programs),
      ...(problems.length ? { degraded: problems.join("; ") } : {}),
    };
  };
  const rows: FeatureTier[] = [];
  if (monitor.file) {
    rows.push(row("file", SYSCALL_HOOKS.without));
    rows.push(row("file-inode", `no ctime tracepoints (before 6.13) and no kprobes: ${NO_INODE}`));
    rows.push(COMPAT_TIER);
  }
  if (monitor.socket) {
    const noCgroup = "no cgroup v2 hierarchy is mounted";
    rows.push(row("socket", `${noCgroup}: ${PACKET_HOOKS.without}`));
    if (probe.cgroup2) rows.push(row("socket-existing", ITERATOR_HOOKS.without));
  }
  rows.push(
    row(
      "io_uring",
      probe.uring
        ? URING_WITHOUT
        : `this kernel's io_uring tracepoints give no request to read (before 6.0, or a layout not known): ${URING_WITHOUT}`,
    ),
  );
  return rows;
}

export function startKernel(
  lib: Libbpf,
  shim: Shim,
  objectBytes: Uint8Array,
  opts: KernelOptions,
  probe: KernelProbe = probeKernel(lib),
): KernelSession {
  const active = wantedHooks(opts.monitor, probe);
  const failed: Failure[] = [];
  /** turns a failed group off (its fallback on), or rethrows when it cannot be done without */
  const drop = (hooks: Hooks | undefined, error: BpfError, reason: string | undefined): void => {
    if (!hooks || hooks.essential || !active.includes(hooks)) throw error;
    active.splice(active.indexOf(hooks), 1);
    failed.push({ hooks, reason: reason ?? error.message });
    for (const next of hooks.fallback ?? []) {
      if (available(next, probe) && !failed.some((f) => f.hooks === next) && !active.includes(next)) active.push(next);
    }
  };
  const groupOf = (program: string | undefined) => active.find((h) => program !== undefined && loaded(h).includes(program));
  // each round turns one group off; there are never more rounds than groups
  for (let attempt = 1; ; attempt++) {
    shim.kf_log_clear();
    const object = openConfigured(lib, shim, objectBytes, opts, active, probe);
    try {
      object.load();
    } catch (e) {
      object.close();
      if (!(e instanceof BpfError)) throw e;
      const why = loadFailure(BpfObject.log(shim));
      drop(groupOf(why?.program), e, why?.reason);
      continue;
    }
    try {
      attachAll(object, active, probe.cgroup2);
      setInodeTier(object, active);
    } catch (e) {
      object.close();
      if (!(e instanceof AttachFailure)) throw e;
      drop(e.hooks, e.error, e.error.message);
      continue;
    }
    const programs = new Map(active.flatMap((h) => h.programs).map((p) => [p, object.programFd(p)] as const));
    const rescuers = new Map(active.flatMap((h) => Object.entries(h.rescuers ?? {})));
    return { object, features: featureRows(opts.monitor, probe, active, failed), attempts: attempt, programs, rescuers };
  }
}
