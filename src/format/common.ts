/** The Info* and Proc* keys that start every record, in kflowd's order. */
import type { TaskIdentity } from "../records/task.ts";
import { seconds9 } from "./values.ts";

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

/** JSON string literal: quotes, backslashes, control characters and lone surrogates escaped. */
export const str = JSON.stringify as (s: string) => string;

/** deferred: the kernel kept the record aggregating while the ring buffer was full. */
export function infoJson(
  host: HostInfo,
  monitor: string,
  seq: number,
  timestamp: string,
  uptimeNs: bigint,
  deferred: boolean,
): string {
  return (
    `{"InfoSequenceNumber": ${seq}, "InfoTimestamp": ${str(timestamp)}, "InfoMonitor": ${str(monitor)}, ` +
    `"InfoHostName": ${str(host.hostName)}, "InfoHostIP": ${str(host.hostIp)}, ` +
    (host.hostToken === undefined ? "" : `"InfoHostToken": ${str(host.hostToken)}, `) +
    `"InfoSystem": ${str(host.system)}, "InfoKernel": ${str(host.kernel)}, "InfoVersion": ${str(host.version)}, ` +
    `"InfoUptime": ${seconds9(uptimeNs)}` +
    (deferred ? `, "InfoDeferred": true` : "")
  );
}

/** kflowd's Proc: the exe name when the comm is a prefix of it, else "exe/comm". */
export function procName(task: TaskIdentity): string {
  if (task.exe === "") return task.comm;
  return task.exe.startsWith(task.comm) ? task.exe : `${task.exe}/${task.comm}`;
}

export function procJson(task: TaskIdentity, names: NameLookup, ageNs: bigint, versions?: VersionLookup): string {
  return (
    `"ProcParent": ${str(task.parentExe)}, "Proc": ${str(procName(task))}, ` +
    (versions ? `"ProcVersion": ${str(versions.exeVersion(task.exe))}, ` : "") +
    `"ProcUser": ${str(names.user(task.uid))}, "ProcGroup": ${str(names.group(task.gid))}, ` +
    `"ProcPPID": ${task.ppid}, "ProcPID": ${task.pid}, "ProcTID": ${task.tid}, ` +
    `"ProcUID": ${task.uid}, "ProcGID": ${task.gid}, "ProcAge": ${seconds9(ageNs)}`
  );
}
