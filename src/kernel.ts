/**
 * Opens, configures, loads and attaches the kernel side, choosing per feature the best
 * set of hooks the running kernel offers (probed here, the one place that knows).
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { BpfObject } from "../ffi/bpf.ts";
import { kernelTracepoints } from "../ffi/btf.ts";
import type { Libbpf } from "../ffi/libbpf.ts";
import type { Shim } from "../ffi/shim.ts";
import { kernelConfigText, kernelHz } from "./kernel-config.ts";
import { releaseAtLeast } from "./preflight.ts";
import type { AppPorts } from "./app-ports.ts";
import type { Monitor } from "./config.ts";
import { AppLimits, AppPort, InodeTier, KfConfig, MonitorFlags } from "./records/layout.gen.ts";

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
  /** "none": no inode source for path operations even where one exists (tests of that tier) */
  readonly inodeSource?: "best" | "none";
}

/** Which hooks serve a feature on this kernel. */
export interface FeatureTier {
  readonly feature: string;
  /** the set of hooks chosen, e.g. "syscall-tracepoints" */
  readonly tier: string;
  readonly programs: readonly string[];
  /** why a better tier was not used, if one exists */
  readonly degraded?: string;
}

export interface KernelSession {
  readonly object: BpfObject;
  readonly features: readonly FeatureTier[];
}

/** File activity through descriptors: works on every kernel with BTF. */
const FILE_PROGRAMS = [
  "sys_enter__file",
  "sys_exit__file_event",
  "sched_process_exec__open_exec",
  "sched_process_exit__flush",
];

/**
 * 32-bit programs: their calls (ia32 on x86_64, arm32 on arm64) are told apart and read
 * through the compat tables by the same syscall programs; x32 calls are counted only.
 */
const COMPAT_TIER: FeatureTier = {
  feature: "file-32bit",
  tier: "compat-tables",
  programs: [process.arch === "arm64" ? "arm32 calls decoded" : "ia32 calls decoded, x32 counted"],
};

/** Inodes of path operations from the multigrain ctime tracepoints (6.13+). */
const CTIME_TRACEPOINTS = ["inode_set_ctime_to_ts", "ctime_xchg_skip", "ctime_ns_xchg"];
const CTIME_PROGRAMS = CTIME_TRACEPOINTS.map((t) => `${t}__path_op`);

/** Inodes of path operations from kprobes, where the kernel has them. */
const KPROBE_PROGRAMS = [
  "security_inode_unlink__path_op",
  "security_inode_rename__path_op",
  "security_inode_link__path_op",
  "d_instantiate__path_op",
  "d_instantiate_new__path_op",
  "security_inode_setattr__path_op",
  "security_inode_setxattr__path_op",
  "security_inode_removexattr__path_op",
  "security_bprm_check__open_exec",
];

/** Sockets: packets per socket on the cgroup v2 root, owners from process-context hooks. */
const SOCKET_CGROUP_PROGRAMS = [
  "cgroup_skb__egress",
  "cgroup_skb__ingress",
  "sock_create__owner",
  "connect4__owner",
  "connect6__owner",
  "bind4__owner",
  "bind6__owner",
  "sock_release__export",
  "sockops__tcp",
];
const SOCKET_PROGRAMS = ["inet_sock_set_state__export", "netif_receive_skb__frags"];
/** Owners of the sockets open before the agent: bpf_sock_from_file and BTF socket cookies (5.12). */
const EXISTING_SOCKETS_PROGRAM = "iter_task_file__existing";
const EXISTING_SOCKETS_SINCE: readonly [number, number] = [5, 12];


/** Mount point of the cgroup v2 hierarchy, from a mountinfo text. */
export function cgroup2Mount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash > 0 && fields[dash + 1] === "cgroup2") return fields[4];
  }
  return undefined;
}

/** Attaches the socket hooks to the root of the cgroup v2 hierarchy (all processes). */
function attachSockets(object: BpfObject): FeatureTier {
  const all = [...SOCKET_PROGRAMS, ...SOCKET_CGROUP_PROGRAMS];
  const root = cgroup2Mount(readFileSync("/proc/self/mountinfo", "utf8"));
  if (!root) {
    return { feature: "socket", tier: "none", programs: [], degraded: "no cgroup v2 hierarchy is mounted: TCP and UDP are not monitored (UNIX sockets are)" };
  }
  const fd = openSync(root, "r");
  try {
    object.attach(SOCKET_CGROUP_PROGRAMS, fd);
  } finally {
    closeSync(fd);
  }
  object.attach(SOCKET_PROGRAMS);
  return { feature: "socket", tier: "cgroup-hooks", programs: all };
}

/** claimByIo: sockets open before the start go to the first process using them (no iterator) */
function configBytes(opts: KernelOptions, claimByIo: boolean): Uint8Array {
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
  view.setUint32(KfConfig.sockClaimIo, claimByIo ? 1 : 0, true);
  const ports = opts.apps.ports.slice(0, AppLimits.APP_PORTS_MAX);
  view.setUint32(KfConfig.nappPorts, ports.length, true);
  ports.forEach((p, i) => {
    const at = KfConfig.appPorts + i * AppPort.SIZE;
    view.setUint16(at + AppPort.port, p.port, true);
    view.setUint8(at + AppPort.proto, p.proto === "tcp" ? 6 : 17);
    view.setUint8(at + AppPort.app, p.app);
  });
  return bytes;
}

/** Attaches the best inode source for path operations and tells the kernel side. */
function attachInodeTier(object: BpfObject, ctime: boolean, none: boolean): FeatureTier {
  let tier: FeatureTier;
  let code: number;
  if (none) {
    tier = { feature: "file-inode", tier: "none", programs: [], degraded: "turned off: path operations are reported without inode data" };
    code = InodeTier.INODE_TIER_NONE;
  } else if (ctime) {
    object.attach(CTIME_PROGRAMS);
    tier = { feature: "file-inode", tier: "ctime-tracepoints", programs: CTIME_PROGRAMS };
    code = InodeTier.INODE_TIER_CTIME;
  } else {
    try {
      object.attach(KPROBE_PROGRAMS);
      tier = { feature: "file-inode", tier: "kprobes", programs: KPROBE_PROGRAMS };
      code = InodeTier.INODE_TIER_KPROBE;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      tier = {
        feature: "file-inode",
        tier: "none",
        programs: [],
        degraded: `no ctime tracepoints (before 6.13) and no kprobes (${why}): path operations are reported without inode data`,
      };
      code = InodeTier.INODE_TIER_NONE;
    }
  }
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(0, code, true);
  object.updateMap("inode_tier", new Uint8Array(4), value);
  return tier;
}

/**
 * Once the hooks see new sockets: the owners and roles of those that were already open,
 * from the iterator, else from the first process that reads or writes each (the syscall
 * programs do that when told to by configBytes()).
 */
function pickUpSockets(object: BpfObject, iterator: boolean): FeatureTier {
  if (!iterator) {
    return {
      feature: "socket-existing",
      tier: "first-read-or-write",
      programs: [],
      degraded: `the socket iterator needs Linux ${EXISTING_SOCKETS_SINCE.join(".")}: a socket open before the start is reported with the first process that reads or writes it, without one until then`,
    };
  }
  object.runIterator(EXISTING_SOCKETS_PROGRAM);
  return { feature: "socket-existing", tier: "task-file-iterator", programs: [EXISTING_SOCKETS_PROGRAM] };
}

export function startKernel(lib: Libbpf, shim: Shim, objectBytes: Uint8Array, opts: KernelOptions): KernelSession {
  const object = BpfObject.open(lib, shim, objectBytes);
  try {
    // tracepoints a kernel lacks fail at load, kprobes only at attach: decide before load
    const { file, socket } = opts.monitor;
    const existing = socket && releaseAtLeast(release(), EXISTING_SOCKETS_SINCE);
    object.setReadOnlyData(configBytes(opts, socket && !existing));
    object.setMaxEntries("ring", opts.ringBytes);
    object.setMaxEntries("files", opts.fileEntries);
    object.setMaxEntries("socks", opts.sockEntries);
    const none = opts.inodeSource === "none";
    const ctime = kernelTracepoints(lib, CTIME_TRACEPOINTS).size === CTIME_TRACEPOINTS.length;
    for (const p of CTIME_PROGRAMS) object.setAutoload(p, file && ctime && !none);
    for (const p of KPROBE_PROGRAMS) object.setAutoload(p, file && !ctime && !none);
    for (const p of [...SOCKET_PROGRAMS, ...SOCKET_CGROUP_PROGRAMS]) object.setAutoload(p, socket);
    object.setAutoload(EXISTING_SOCKETS_PROGRAM, existing);
    object.load();
    // the syscall programs serve both: files, and UNIX sockets and application messages
    object.attach(FILE_PROGRAMS);
    const features: FeatureTier[] = [];
    if (file) features.push({ feature: "file", tier: "syscall-tracepoints", programs: FILE_PROGRAMS }, attachInodeTier(object, ctime, none), COMPAT_TIER);
    if (socket) {
      const sockets = attachSockets(object);
      features.push(sockets);
      if (sockets.tier !== "none") features.push(pickUpSockets(object, existing));
    }
    return { object, features };
  } catch (e) {
    object.close();
    throw e;
  }
}
