/**
 * The record formatters as strings, built key by key from template literals: the
 * reference the agent's byte formatters (src/format/file-json.ts, sock-json.ts, which
 * alone make its output) are compared with on many random records. Kept here, in the
 * tests, so that the agent has one formatter per record type.
 */
import type { Digests } from "../../../src/enrich/checksums.ts";
import type { AppMessage } from "../../../src/records/app.ts";
import type { FileRecord } from "../../../src/records/file.ts";
import { AF_INET, AF_UNIX, IPPROTO_TCP } from "../../../src/records/net.ts";
import type { SockDirection, SockRecord } from "../../../src/records/sock.ts";
import type { TaskIdentity } from "../../../src/records/task.ts";
import { SockRole } from "../../../src/records/layout.gen.ts";
import { ipv4, ipv6 } from "../../../src/records/ip-text.ts";
import { appJson } from "../../../src/format/app-json.ts";
import {
  type CgroupLookup,
  type HostInfo,
  infoHost,
  type NameLookup,
  procName,
  str,
  type VersionLookup,
} from "../../../src/format/common.ts";
import { FS_EVENT_NAMES, type FormatContext, isExecutable } from "../../../src/format/file-json.ts";
import { queued, TCP_STATES, tcpFlagsName, ttl } from "../../../src/format/sock-json.ts";
import { fileMode, permissions, seconds9, timestamp } from "../../../src/format/values.ts";

/** deferred: the kernel kept the record aggregating while the ring buffer was full. */
function infoJson(host: HostInfo, monitor: string, seq: number, timestamp: string, uptimeNs: bigint, deferred: boolean): string {
  return (
    `{"InfoSequenceNumber": ${seq}, "InfoTimestamp": ${str(timestamp)}${infoHost(host, monitor)}${seconds9(uptimeNs)}` +
    (deferred ? `, "InfoDeferred": true` : "")
  );
}

function procJson(task: TaskIdentity, names: NameLookup, ageNs: bigint, versions?: VersionLookup): string {
  return (
    `"ProcParent": ${str(task.parentExe)}, "Proc": ${str(procName(task))}, ` +
    (versions ? `"ProcVersion": ${str(versions.exeVersion(task.exe))}, ` : "") +
    `"ProcUser": ${str(names.user(task.uid))}, "ProcGroup": ${str(names.group(task.gid))}, ` +
    `"ProcPPID": ${task.ppid}, "ProcPID": ${task.pid}, "ProcTID": ${task.tid}, ` +
    `"ProcUID": ${task.uid}, "ProcGID": ${task.gid}, "ProcAge": ${seconds9(ageNs)}`
  );
}

/** The keys after kflowd's: the process's cgroup, and its container when it is one's. */
function cgroupJson(task: TaskIdentity, cgroups: CgroupLookup): string {
  const info = task.cgroupId === 0 ? undefined : cgroups.cgroup(task.cgroupId, task.pid);
  if (!info) return "";
  return `, "ProcCgroup": ${str(info.path)}${info.containerId === undefined ? "" : `, "ProcContainerId": ${str(info.containerId)}`}`;
}

function eventsJson(counts: readonly number[]): string {
  let s = "";
  for (let i = 0; i < FS_EVENT_NAMES.length; i++) {
    const n = counts[i]!;
    if (n !== 0) s += `${s === "" ? "" : ", "}"${FS_EVENT_NAMES[i]}": ${n}`;
  }
  return `{${s}}`;
}

/** digests: -c on and the file executable (undefined: no checksum keys). */
export function fileJson(r: FileRecord, ctx: FormatContext, digests?: Digests): string {
  const slash = r.path.lastIndexOf("/");
  const dir = r.path.slice(0, slash + 1) || "/";
  const name = r.path.slice(slash + 1);
  let s =
    `${infoJson(ctx.host, "filesystem", ctx.seq, timestamp(ctx.nowNs), ctx.uptimeNs, r.deferred)}, ` +
    `${procJson(r.task, ctx.names, r.tsNs - r.task.startNs, ctx.versions)}, ` +
    `"FilePath": ${str(dir)}, "File": ${str(name)}, ` +
    (r.origin !== undefined ? `"FileOrigin": ${str(r.origin)}, ` : "") +
    (ctx.versions && isExecutable(r) ? `"FileVersion": ${str(ctx.versions.fileVersion(r.path))}, ` : "") +
    (r.mode !== 0 ? `"FileMode": ${str(fileMode(r.mode, r.nlink))}, ` : "") +
    `"FileEventCount": ${r.events}, "FileEvents": ${eventsJson(r.eventCounts)}, ` +
    `"FileEventsDuration": ${seconds9(r.tsNs - r.tsFirstNs)}`;
  // a path operation the kernel could not map to an inode has nothing more to say
  if (!r.inodeKnown) return `${s}${cgroupJson(r.task, ctx.cgroups)}}`;
  const sizeChange = r.size - r.sizeFirst;
  const mtimeChange = r.mtimeNs - r.mtimeFirstNs;
  s +=
    `, "FileInode": ${r.ino}, "FileInodeLinkCount": ${r.nlink}, "FileDevice": ${str(ctx.devices.device(r.dev))}, ` +
    `"FilePermissions": ${str(permissions(r.mode))}, ` +
    `"FileUser": ${str(ctx.names.user(r.uid))}, "FileGroup": ${str(ctx.names.group(r.gid))}, ` +
    `"FileUID": ${r.uid}, "FileGID": ${r.gid}, "FileSize": ${r.size}, ` +
    (sizeChange !== 0 ? `"FileSizeChange": ${sizeChange}, ` : "") +
    `"FileAccessTime": ${str(timestamp(r.atimeNs))}, ` +
    `"FileStatusChangeTime": ${str(timestamp(r.ctimeNs))}, ` +
    `"FileModificationTime": ${str(timestamp(r.mtimeNs))}` +
    (mtimeChange !== 0n ? `, "FileModificationTimeChange": ${seconds9(mtimeChange)}` : "") +
    (digests ? `, "FileMD5": ${str(digests.md5)}, "FileSHA256": ${str(digests.sha256)}` : "") +
    cgroupJson(r.task, ctx.cgroups);
  return `${s}}`;
}

function flagsJson(d: SockDirection): string {
  return `{${d.flags.map(([mask, n]) => `"${tcpFlagsName(mask)}": ${n}`).join(", ")}}`;
}

function addr(r: SockRecord, b: Uint8Array): string {
  return r.family === AF_INET ? ipv4(b) : ipv6(b);
}

/** interface of the first packet in a direction */
function iface(ctx: FormatContext, d: SockDirection): string {
  return str(ctx.interfaces.interface(d.ifindex));
}

function tcpTx(r: SockRecord, ctx: FormatContext): string {
  const d = r.tx;
  return (
    `"SockTxInterface": ${iface(ctx, d)}, "SockTxDataPackets": ${d.dataPackets}, "SockTxPackets": ${d.packets}, ` +
    `"SockTxPacketsRetrans": ${r.retrans}, "SockTxPacketsDups": ${r.dsackDups}, "SockTxFlags": ${flagsJson(d)}, ` +
    `"SockTxDuration": ${seconds9(d.tsLastNs - d.tsFirstNs)}, "SockTxBytes": ${d.bytes}, ` +
    `"SockTxBytesAcked": ${r.bytesAcked}, "SockTxBytesRetrans": ${r.bytesRetrans}` +
    (r.rtoMs === undefined ? "" : `, "SockTxRTO": ${r.rtoMs}`)
  );
}

function tcpRx(r: SockRecord, ctx: FormatContext): string {
  const d = r.rx;
  return (
    `"SockRxInterface": ${iface(ctx, d)}, "SockRxDataPackets": ${d.dataPackets}, "SockRxPackets": ${d.packets}, ` +
    `"SockRxPacketsQueued": ${queued(r)}, "SockRxPacketsDrop": ${r.drops}, "SockRxPacketsReorder": ${r.reorder}, ` +
    `"SockRxPacketsFrag": ${d.frags}, "SockRxFlags": ${flagsJson(d)}, "SockRxDuration": ${seconds9(d.tsLastNs - d.tsFirstNs)}, ` +
    `"SockRxBytes": ${d.bytes}, "SockRxTTL": ${ttl(d)}, ` +
    `"SockRTT": ${seconds9(BigInt(r.srttUs) * 1000n)}`
  );
}

function udpTx(r: SockRecord, ctx: FormatContext): string {
  const d = r.tx;
  return (
    `"SockTxInterface": ${iface(ctx, d)}, "SockTxPackets": ${d.packets}, ` +
    `"SockTxDuration": ${seconds9(d.tsLastNs - d.tsFirstNs)}, "SockTxBytes": ${d.bytes}`
  );
}

function udpRx(r: SockRecord, ctx: FormatContext): string {
  const d = r.rx;
  return (
    `"SockRxInterface": ${iface(ctx, d)}, "SockRxPackets": ${d.packets}, ` +
    `"SockRxPacketsQueued": ${r.queued}, "SockRxPacketsDrop": ${r.drops}, "SockRxPacketsFrag": ${d.frags}, ` +
    `"SockRxDuration": ${seconds9(d.tsLastNs - d.tsFirstNs)}, "SockRxBytes": ${d.bytes}, ` +
    `"SockRxTTL": ${ttl(d)}`
  );
}

function inetJson(r: SockRecord, ctx: FormatContext): string {
  const tcp = r.proto === IPPROTO_TCP;
  const state = tcp ? (TCP_STATES[r.state] ?? `TCP_${r.state}`) : r.state === 1 ? "UDP_ESTABLISHED" : "UDP_CLOSE";
  const blocks: string[] = [];
  const tx = r.tx.packets > 0 ? (tcp ? tcpTx(r, ctx) : udpTx(r, ctx)) : undefined;
  const rx = r.rx.packets > 0 ? (tcp ? tcpRx(r, ctx) : udpRx(r, ctx)) : undefined;
  // clients list what they sent first, servers what they received
  const order = r.role === SockRole.SOCK_ROLE_SERVER ? [rx, tx] : [tx, rx];
  for (const b of order) if (b) blocks.push(b);
  return (
    `"SockProtocol": ${tcp ? '"TCP"' : '"UDP"'}, "SockRole": ${str(roleName(r))}, "SockState": ${str(state)}, ` +
    `"SockFamily": ${r.family === AF_INET ? '"AF_INET"' : '"AF_INET6"'}, ` +
    `"SockLocalIP": ${str(addr(r, r.laddr))}, "SockLocalPort": ${r.lport}, ` +
    `"SockRemoteIP": ${str(addr(r, r.raddr))}, "SockRemotePort": ${r.rport}` +
    blocks.map((b) => `, ${b}`).join("")
  );
}

function roleName(r: SockRecord): string {
  return r.role === SockRole.SOCK_ROLE_SERVER ? "SERVER" : "CLIENT";
}

function unixJson(r: SockRecord): string {
  return (
    `"SockRole": ${str(roleName(r))}, "SockAddress": ${str(r.unixPath)}, "SockFamily": "AF_UNIX", ` +
    `"SockTxBytes": ${r.tx.bytes}` +
    (r.rx.packets > 0 ? `, "SockRxBytes": ${r.rx.bytes}` : "")
  );
}

/** The record, with the application messages captured on its socket (if any). */
export function sockJson(r: SockRecord, ctx: FormatContext, messages?: readonly AppMessage[]): string {
  const body = r.family === AF_UNIX ? unixJson(r) : inetJson(r, ctx);
  const name = r.family === AF_UNIX ? undefined : ctx.remoteNames.remoteName(r.family, r.raddr, r.tsFirstNs);
  return (
    `${infoJson(ctx.host, "socket", ctx.seq, timestamp(ctx.nowNs), ctx.uptimeNs, r.deferred)}, ` +
    `${procJson(r.task, ctx.names, r.tsNs - r.task.startNs, ctx.versions)}, ${body}, ` +
    `"SockAge": ${seconds9(r.tsNs - r.tsFirstNs)}${appJson(r, messages)}` +
    `${cgroupJson(r.task, ctx.cgroups)}${name === undefined ? "" : `, "SockRemoteName": ${str(name)}`}}`
  );
}
