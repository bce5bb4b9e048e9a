/**
 * The Info* and Proc* keys that start every record, in kflowd's order, and the keys of
 * the process's cgroup that end every record (after all of kflowd's).
 */
import type { CgroupInfo } from "../enrich/cgroups.ts";
import type { TaskIdentity } from "../records/task.ts";
import { encode, type JsonBytes } from "./json-bytes.ts";

/** Per-host facts and per-record values of the Info* keys. */
export interface HostInfo {
  readonly hostName: string;
  readonly hostIp: string;
  readonly hostToken: string | undefined;
  readonly system: string;
  readonly kernel: string;
  readonly version: string;
}

/** uid/gid to names; "" when unknown. */
export interface NameLookup {
  user(uid: number): string;
  group(gid: number): string;
}

/** ifindex to kflowd's "<ifindex>:<name>:<mac>". */
export interface InterfaceLookup {
  interface(ifindex: number): string;
}

/** kernel dev_t to kflowd's FileDevice text. */
export interface DeviceLookup {
  device(dev: number): string;
}

/** -v: versions of the packages that installed files; "" when unknown. */
export interface VersionLookup {
  /** the package owning this absolute path */
  fileVersion(path: string): string;
  /** the package owning an executable of this name */
  exeVersion(name: string): string;
}

/** cgroup v2 id to the cgroup's path and container; undefined when it cannot be named (the lookup counts it). */
export interface CgroupLookup {
  /** pid: the record's process (0: none), which may help to name it */
  cgroup(id: number, pid: number): CgroupInfo | undefined;
}

/** A flow's remote address to the name this host resolved to it (DNS), if known. */
export interface RemoteNameLookup {
  /** family: AF_INET (the first 4 bytes of addr) or AF_INET6; atNs: when the flow began (CLOCK_MONOTONIC) */
  remoteName(family: number, addr: Uint8Array, atNs: bigint): string | undefined;
}

/** JSON string literal: quotes, backslashes, control characters and lone surrogates escaped. */
export const str = JSON.stringify as (s: string) => string;

/** The Info keys that only depend on the host and the monitor: from InfoMonitor to InfoUptime's key. */
export function infoHost(host: HostInfo, monitor: string): string {
  return (
    `, "InfoMonitor": ${str(monitor)}, ` +
    `"InfoHostName": ${str(host.hostName)}, "InfoHostIP": ${str(host.hostIp)}, ` +
    (host.hostToken === undefined ? "" : `"InfoHostToken": ${str(host.hostToken)}, `) +
    `"InfoSystem": ${str(host.system)}, "InfoKernel": ${str(host.kernel)}, "InfoVersion": ${str(host.version)}, ` +
    `"InfoUptime": `
  );
}

/** infoHost() as bytes, made once per host and monitor */
let infoHostOf: HostInfo | undefined;
const infoHostBytes = new Map<string, Uint8Array>();

/**
 * The Info keys into out, from "{" to InfoUptime (and InfoDeferred: the kernel kept the
 * record aggregating while the ring buffer was full), with the timestamp of nowNs.
 */
export function infoBytes(
  out: JsonBytes,
  host: HostInfo,
  monitor: string,
  seq: number,
  nowNs: bigint,
  uptimeNs: bigint,
  deferred: boolean,
): void {
  if (host !== infoHostOf) {
    infoHostOf = host;
    infoHostBytes.clear();
  }
  let hostPart = infoHostBytes.get(monitor);
  if (hostPart === undefined) {
    hostPart = encode(infoHost(host, monitor));
    infoHostBytes.set(monitor, hostPart);
  }
  out.ascii('{"InfoSequenceNumber": ');
  out.num(seq);
  out.ascii(', "InfoTimestamp": "');
  out.timestamp(nowNs);
  out.byte(34);
  out.raw(hostPart);
  out.seconds9(uptimeNs);
  if (deferred) out.ascii(', "InfoDeferred": true');
}

/** kflowd's Proc: the exe name when the comm is a prefix of it, else "exe/comm". */
export function procName(task: TaskIdentity): string {
  if (task.exe === "") return task.comm;
  return task.exe.startsWith(task.comm) ? task.exe : `${task.exe}/${task.comm}`;
}

/** The Proc keys into out; atNs: the record's time (ProcAge is the process's age then). */
export function procBytes(out: JsonBytes, task: TaskIdentity, names: NameLookup, atNs: bigint, versions?: VersionLookup): void {
  out.ascii('"ProcParent": ');
  out.str(task.parentExe);
  out.ascii(', "Proc": ');
  out.str(procName(task));
  if (versions) {
    out.ascii(', "ProcVersion": ');
    out.str(versions.exeVersion(task.exe));
  }
  out.ascii(', "ProcUser": ');
  out.str(names.user(task.uid));
  out.ascii(', "ProcGroup": ');
  out.str(names.group(task.gid));
  out.ascii(', "ProcPPID": ');
  out.num(task.ppid);
  out.ascii(', "ProcPID": ');
  out.num(task.pid);
  out.ascii(', "ProcTID": ');
  out.num(task.tid);
  out.ascii(', "ProcUID": ');
  out.num(task.uid);
  out.ascii(', "ProcGID": ');
  out.num(task.gid);
  out.ascii(', "ProcAge": ');
  out.seconds9Between(atNs, task.startNs);
}

/** ', "ProcCgroup": ..., "ProcContainerId": ...' of each cgroup named, made once */
const cgroupKeys = new WeakMap<CgroupInfo, Uint8Array>();

/**
 * The cgroup keys into out: ProcCgroup, and ProcContainerId when the cgroup is a
 * container's; nothing when the record has no cgroup id or it cannot be named.
 */
export function cgroupBytes(out: JsonBytes, task: TaskIdentity, cgroups: CgroupLookup): void {
  if (task.cgroupId === 0) return;
  const info = cgroups.cgroup(task.cgroupId, task.pid);
  if (info === undefined) return;
  let keys = cgroupKeys.get(info);
  if (keys === undefined) {
    const container = info.containerId === undefined ? "" : `, "ProcContainerId": ${str(info.containerId)}`;
    keys = encode(`, "ProcCgroup": ${str(info.path)}${container}`);
    cgroupKeys.set(info, keys);
  }
  out.raw(keys);
}
