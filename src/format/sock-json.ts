/** A socket record as kflowd's one-line JSON (kflowd-spec §5.3 TCP, §5.4 UDP, §5.5 UNIX). */
import type { AppMessage } from "../records/app.ts";
import { AF_INET, AF_UNIX, IPPROTO_TCP } from "../records/net.ts";
import type { SockDirection, SockRecord } from "../records/sock.ts";
import { appJson } from "./app-json.ts";
import { SockRole } from "../records/layout.gen.ts";
import { ipv6 } from "../records/ip-text.ts";
import { cgroupBytes, infoBytes, procBytes, str } from "./common.ts";
import type { FormatContext } from "./file-json.ts";
import { encode, type JsonBytes, text, textStart } from "./json-bytes.ts";

/** Kernel TCP states (include/net/tcp_states.h), by number. */
export const TCP_STATES = [
  "TCP_NONE",
  "TCP_ESTABLISHED",
  "TCP_SYN_SENT",
  "TCP_SYN_RECV",
  "TCP_FIN_WAIT1",
  "TCP_FIN_WAIT2",
  "TCP_TIME_WAIT",
  "TCP_CLOSE",
  "TCP_CLOSE_WAIT",
  "TCP_LAST_ACK",
  "TCP_LISTEN",
  "TCP_CLOSING",
  "TCP_NEW_SYN_RECV",
  "TCP_BOUND_INACTIVE",
];

const FLAG_NAMES = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];

function flagsNameOf(mask: number): string {
  const names = FLAG_NAMES.filter((_, i) => mask & (1 << i));
  return names.length ? names.join("-") : "NONE";
}

/** the names of the 64 combinations of the six flags */
const FLAGS_NAMES: readonly string[] = Array.from({ length: 64 }, (_, mask) => flagsNameOf(mask));

/** "PSH-ACK" for a flag combination, names in the order FIN, SYN, RST, PSH, ACK, URG. */
export function tcpFlagsName(mask: number): string {
  return FLAGS_NAMES[mask] ?? flagsNameOf(mask);
}

/** average TTL / hop limit of the packets received */
export function ttl(d: SockDirection): number {
  return d.ttlPackets ? Math.round(d.ttlSum / d.ttlPackets) : 0;
}

/** rcv_nxt - copied_seq counts a received FIN's sequence number too: not a queued byte. */
export function queued(r: SockRecord): number {
  const finSeen = r.rx.flags.some(([mask]) => mask & 1);
  return Math.max(0, r.queued - (finSeen ? 1 : 0));
}

function flagsBytes(out: JsonBytes, d: SockDirection): void {
  out.byte(123); // {
  const flags = d.flags;
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    out.ascii(i === 0 ? '"' : ', "');
    out.ascii(tcpFlagsName(f[0]));
    out.ascii('": ');
    out.num(f[1]);
  }
  out.byte(125); // }
}

function addrBytes(out: JsonBytes, r: SockRecord, b: Uint8Array): void {
  out.byte(34);
  if (r.family === AF_INET) {
    out.num(b[0]!);
    out.byte(46);
    out.num(b[1]!);
    out.byte(46);
    out.num(b[2]!);
    out.byte(46);
    out.num(b[3]!);
  } else {
    out.ascii(ipv6(b));
  }
  out.byte(34);
}

function tcpTxBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext): void {
  const d = r.tx;
  out.ascii('"SockTxInterface": ');
  out.str(ctx.interfaces.interface(d.ifindex));
  out.ascii(', "SockTxDataPackets": ');
  out.num(d.dataPackets);
  out.ascii(', "SockTxPackets": ');
  out.num(d.packets);
  out.ascii(', "SockTxPacketsRetrans": ');
  out.num(r.retrans);
  out.ascii(', "SockTxPacketsDups": ');
  out.num(r.dsackDups);
  out.ascii(', "SockTxFlags": ');
  flagsBytes(out, d);
  out.ascii(', "SockTxDuration": ');
  out.seconds9Between(d.tsLastNs, d.tsFirstNs);
  out.ascii(', "SockTxBytes": ');
  out.num(d.bytes);
  out.ascii(', "SockTxBytesAcked": ');
  out.num(r.bytesAcked);
  out.ascii(', "SockTxBytesRetrans": ');
  out.num(r.bytesRetrans);
  if (r.rtoMs !== undefined) {
    out.ascii(', "SockTxRTO": ');
    out.num(r.rtoMs);
  }
}

function tcpRxBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext): void {
  const d = r.rx;
  out.ascii('"SockRxInterface": ');
  out.str(ctx.interfaces.interface(d.ifindex));
  out.ascii(', "SockRxDataPackets": ');
  out.num(d.dataPackets);
  out.ascii(', "SockRxPackets": ');
  out.num(d.packets);
  out.ascii(', "SockRxPacketsQueued": ');
  out.num(queued(r));
  out.ascii(', "SockRxPacketsDrop": ');
  out.num(r.drops);
  out.ascii(', "SockRxPacketsReorder": ');
  out.num(r.reorder);
  out.ascii(', "SockRxPacketsFrag": ');
  out.num(d.frags);
  out.ascii(', "SockRxFlags": ');
  flagsBytes(out, d);
  out.ascii(', "SockRxDuration": ');
  out.seconds9Between(d.tsLastNs, d.tsFirstNs);
  out.ascii(', "SockRxBytes": ');
  out.num(d.bytes);
  out.ascii(', "SockRxTTL": ');
  out.num(ttl(d));
  out.ascii(', "SockRTT": ');
  out.seconds9Of(r.srttUs * 1000);
}

function udpTxBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext): void {
  const d = r.tx;
  out.ascii('"SockTxInterface": ');
  out.str(ctx.interfaces.interface(d.ifindex));
  out.ascii(', "SockTxPackets": ');
  out.num(d.packets);
  out.ascii(', "SockTxDuration": ');
  out.seconds9Between(d.tsLastNs, d.tsFirstNs);
  out.ascii(', "SockTxBytes": ');
  out.num(d.bytes);
}

function udpRxBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext): void {
  const d = r.rx;
  out.ascii('"SockRxInterface": ');
  out.str(ctx.interfaces.interface(d.ifindex));
  out.ascii(', "SockRxPackets": ');
  out.num(d.packets);
  out.ascii(', "SockRxPacketsQueued": ');
  out.num(r.queued);
  out.ascii(', "SockRxPacketsDrop": ');
  out.num(r.drops);
  out.ascii(', "SockRxPacketsFrag": ');
  out.num(d.frags);
  out.ascii(', "SockRxDuration": ');
  out.seconds9Between(d.tsLastNs, d.tsFirstNs);
  out.ascii(', "SockRxBytes": ');
  out.num(d.bytes);
  out.ascii(', "SockRxTTL": ');
  out.num(ttl(d));
}

function txBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext, tcp: boolean): void {
  if (r.tx.packets === 0) return;
  out.ascii(", ");
  if (tcp) tcpTxBytes(out, r, ctx);
  else udpTxBytes(out, r, ctx);
}

function rxBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext, tcp: boolean): void {
  if (r.rx.packets === 0) return;
  out.ascii(", ");
  if (tcp) tcpRxBytes(out, r, ctx);
  else udpRxBytes(out, r, ctx);
}

function inetBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext): void {
  const tcp = r.proto === IPPROTO_TCP;
  out.ascii(tcp ? '"SockProtocol": "TCP", "SockRole": ' : '"SockProtocol": "UDP", "SockRole": ');
  out.ascii(r.role === SockRole.SOCK_ROLE_SERVER ? '"SERVER"' : '"CLIENT"');
  out.ascii(', "SockState": ');
  if (tcp) {
    const name = TCP_STATES[r.state];
    if (name === undefined) {
      out.ascii('"TCP_');
      out.num(r.state);
      out.byte(34);
    } else {
      out.byte(34);
      out.ascii(name);
      out.byte(34);
    }
  } else {
    out.ascii(r.state === 1 ? '"UDP_ESTABLISHED"' : '"UDP_CLOSE"');
  }
  out.ascii(r.family === AF_INET ? ', "SockFamily": "AF_INET", "SockLocalIP": ' : ', "SockFamily": "AF_INET6", "SockLocalIP": ');
  addrBytes(out, r, r.laddr);
  out.ascii(', "SockLocalPort": ');
  out.num(r.lport);
  out.ascii(', "SockRemoteIP": ');
  addrBytes(out, r, r.raddr);
  out.ascii(', "SockRemotePort": ');
  out.num(r.rport);
  // clients list what they sent first, servers what they received
  if (r.role === SockRole.SOCK_ROLE_SERVER) {
    rxBytes(out, r, ctx, tcp);
    txBytes(out, r, ctx, tcp);
  } else {
    txBytes(out, r, ctx, tcp);
    rxBytes(out, r, ctx, tcp);
  }
}

function unixBytes(out: JsonBytes, r: SockRecord): void {
  out.ascii(r.role === SockRole.SOCK_ROLE_SERVER ? '"SockRole": "SERVER", "SockAddress": ' : '"SockRole": "CLIENT", "SockAddress": ');
  out.str(r.unixPath);
  out.ascii(', "SockFamily": "AF_UNIX", "SockTxBytes": ');
  out.num(r.tx.bytes);
  if (r.rx.packets > 0) {
    out.ascii(', "SockRxBytes": ');
    out.num(r.rx.bytes);
  }
}

/** ', "SockRemoteName": "<name>"' of the names printed lately, made once each (a name's hash stays with its string) */
const remoteNameKeys = new Map<string, Uint8Array>();
const MAX_NAME_KEYS = 4096;

function remoteNameBytes(out: JsonBytes, name: string): void {
  let keys = remoteNameKeys.get(name);
  if (keys === undefined) {
    if (remoteNameKeys.size >= MAX_NAME_KEYS) remoteNameKeys.clear();
    keys = encode(`, "SockRemoteName": ${str(name)}`);
    remoteNameKeys.set(name, keys);
  }
  out.raw(keys);
}

/** The record into out, as one line of JSON, with the application messages captured on its socket (if any). */
export function sockBytes(out: JsonBytes, r: SockRecord, ctx: FormatContext, messages?: readonly AppMessage[]): void {
  infoBytes(out, ctx.host, "socket", ctx.seq, ctx.nowNs, ctx.uptimeNs, r.deferred);
  out.ascii(", ");
  procBytes(out, r.task, ctx.names, r.tsNs, ctx.versions);
  out.ascii(", ");
  if (r.family === AF_UNIX) unixBytes(out, r);
  else inetBytes(out, r, ctx);
  out.ascii(', "SockAge": ');
  out.seconds9Between(r.tsNs, r.tsFirstNs);
  // captured application messages are rare next to records: made as text
  if (messages && messages.length > 0) out.text(appJson(r, messages));
  // after every key of kflowd's: the cgroup, and the name the remote address was resolved from
  cgroupBytes(out, r.task, ctx.cgroups);
  if (r.family !== AF_UNIX) {
    const name = ctx.remoteNames.remoteName(r.family, r.raddr, r.tsFirstNs);
    if (name !== undefined) remoteNameBytes(out, name);
  }
  out.byte(125);
}

/** The record as one line of JSON text (pretty JSON, the collectors). */
export function sockJson(r: SockRecord, ctx: FormatContext, messages?: readonly AppMessage[]): string {
  const out = textStart();
  sockBytes(out, r, ctx, messages);
  return text(out);
}
