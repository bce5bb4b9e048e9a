/**
 * -D: kernel records as received, one line each on stderr, for the processes asked for.
 * They show what the JSON leaves out or derives: raw keys, kernel timestamps, the flags
 * of a file aggregation, raw socket numbers. For people debugging the agent, not for
 * pipelines; the format may change.
 */
import type { AppMessage } from "../records/app.ts";
import type { FileRecord } from "../records/file.ts";
import type { SockDirection, SockRecord } from "../records/sock.ts";
import type { TaskIdentity } from "../records/task.ts";
import { str } from "./common.ts";

/** Whether -D's PROCESS ('*' or an executable name) selects this task. */
export function debugSelects(selector: string, task: TaskIdentity): boolean {
  return selector === "*" || task.exe === selector || task.comm === selector;
}

function taskText(t: TaskIdentity): string {
  return `pid=${t.pid} tid=${t.tid} ppid=${t.ppid} uid=${t.uid} gid=${t.gid} comm=${str(t.comm)} exe=${str(t.exe)} start=${t.startNs} cgroup=${t.cgroupId}`;
}

export function debugFile(r: FileRecord): string {
  const flags = [r.pathTruncated ? "path-truncated" : "", r.inodeKnown ? "" : "no-inode"].filter(Boolean).join(",") || "-";
  return (
    `kflowd: debug: file ${taskText(r.task)} dev=0x${r.dev.toString(16)} ino=${r.ino} mode=0${r.mode.toString(8)} ` +
    `nlink=${r.nlink} size=${r.sizeFirst}->${r.size} events=${r.events} [${r.eventCounts.join(",")}] ` +
    `first=${r.tsFirstNs} last=${r.tsNs} flags=${flags} path=${str(r.path)}` +
    (r.origin !== undefined ? ` origin=${str(r.origin)}` : "") +
    "\n"
  );
}

function dirText(d: SockDirection): string {
  return `${d.packets}p/${d.dataPackets}d/${d.bytes}B if=${d.ifindex} ttl=${d.ttlSum}/${d.ttlPackets} frags=${d.frags} t=${d.tsFirstNs}..${d.tsLastNs}`;
}

export function debugSock(r: SockRecord): string {
  return (
    `kflowd: debug: socket key=0x${r.key.toString(16)} ${taskText(r.task)} family=${r.family} proto=${r.proto} ` +
    `type=${r.type} role=${r.role} state=${r.state} lport=${r.lport} rport=${r.rport} tx=[${dirText(r.tx)}] ` +
    `rx=[${dirText(r.rx)}] srtt=${r.srttUs}us rto=${r.rtoMs ?? "?"}ms retrans=${r.retrans} dups=${r.dsackDups} ` +
    `reorder=${r.reorder} drops=${r.drops} queued=${r.queued} first=${r.tsFirstNs} last=${r.tsNs}` +
    (r.unixPath ? ` path=${str(r.unixPath)}` : "") +
    "\n"
  );
}

export function debugApp(m: AppMessage): string {
  return (
    `kflowd: debug: app socket=0x${m.sockKey.toString(16)} pid=${m.pid} app=${m.app} ${m.rx ? "rx" : "tx"} ` +
    `len=${m.len} captured=${m.data.length} t=${m.tsNs}\n`
  );
}

/**
 * -D q: one line per decision of a timeout scan, on stderr (kflowd's expiry-queue
 * debugging): the record's kind and map key, what was done, and how long it has been
 * idle and alive.
 */
export function expiryDebugLine(what: string, key: Uint8Array, decision: string, idleNs: bigint, ageNs: bigint): void {
  const hex = Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");
  const s = (ns: bigint) => (Number(ns / 1_000_000n) / 1000).toFixed(3);
  process.stderr.write(`kflowd: debug: expiry: ${what} key=${hex} ${decision} idle=${s(idleNs)}s age=${s(ageNs)}s\n`);
}
