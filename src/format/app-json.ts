/** The App* keys of a socket record: its captured messages, decoded (kflowd-spec §5.6). */
import { decodeDns, dnsTcpMessages } from "../app/dns.ts";
import { decodeHttp, splitHttp } from "../app/http.ts";
import { bytesText, type MsgValue, msgJson } from "../app/json.ts";
import { decodeSyslog, splitSyslog } from "../app/syslog.ts";
import type { AppMessage } from "../records/app.ts";
import { AppKind, SockRole } from "../records/layout.gen.ts";
import { IPPROTO_TCP } from "../records/net.ts";
import type { SockRecord } from "../records/sock.ts";
import { seconds9 } from "./values.ts";

const NAMES: Record<number, [string, string]> = {
  [AppKind.APP_DNS]: ["DNS", "Dns"],
  [AppKind.APP_HTTP]: ["HTTP", "Http"],
  [AppKind.APP_SYSLOG]: ["SYSLOG", "Syslog"],
};
const MAX_BODY = 127;

/** One decoded message: when it was captured, and its JSON members. */
interface Decoded {
  readonly tsNs: bigint;
  readonly fields: Record<string, MsgValue>;
}

/** {"_Timestamp": ..., members...}: DNS and HTTP messages carry the time since base. */
function withTimestamp(d: Decoded, baseNs: bigint): string {
  const body = msgJson(d.fields);
  return `{"_Timestamp": ${seconds9(d.tsNs - baseNs)}${body === "{}" ? "" : `, ${body.slice(1, -1)}`}}`;
}

/**
 * The DNS messages of one direction. Over TCP the captures are pieces of a stream: they
 * are joined and cut again by the length prefixes (a reader may take the prefix alone).
 */
function dnsMessages(mine: readonly AppMessage[], tcp: boolean): Decoded[] {
  const failed = { _Exception: "DNS Message Decoder" };
  if (!tcp) return mine.map((m) => ({ tsNs: m.tsNs, fields: decodeDns(m.data, false, m.len > m.data.length) ?? failed }));
  return dnsTcpMessages(mine).map((d) => ({
    tsNs: mine[d.chunk]!.tsNs,
    fields: decodeDns(d.bytes, true, d.truncated) ?? failed,
  }));
}

/**
 * The HTTP messages of one direction: a capture may hold several (pipelining); one that
 * starts no message continues the previous one's body.
 */
function httpMessages(mine: readonly AppMessage[]): Decoded[] {
  const out: Decoded[] = [];
  for (const m of mine) {
    for (const piece of splitHttp(m.data)) {
      const text = bytesText(piece);
      const fields = decodeHttp(text) ?? (out.length === 0 ? { _Exception: "HTTP Message Decoder" } : { _Body: text.slice(0, MAX_BODY) });
      out.push({ tsNs: m.tsNs, fields });
    }
  }
  return out;
}

/** The SYSLOG messages of one direction, as JSON: a TCP capture may hold several frames. */
function syslogMessages(mine: readonly AppMessage[], tcp: boolean): string[] {
  const out: string[] = [];
  for (const m of mine) {
    const pieces = tcp ? splitSyslog(m.data) : [m.data];
    for (const piece of pieces.length > 0 ? pieces : [m.data]) {
      const text = bytesText(piece);
      out.push(msgJson(decodeSyslog(text) ?? { _Exception: "SYSLOG Message Decoder", _Message: text }));
    }
  }
  return out;
}

function decodedJson(app: number, dir: readonly AppMessage[], r: SockRecord, baseNs: bigint): string[] {
  const tcp = r.proto === IPPROTO_TCP;
  switch (app) {
    case AppKind.APP_DNS:
      return dnsMessages(dir, tcp).map((d) => withTimestamp(d, baseNs));
    case AppKind.APP_HTTP:
      return httpMessages(dir).map((d) => withTimestamp(d, baseNs));
    default:
      return syslogMessages(dir, tcp);
  }
}

/** ', "App": ..., "AppTxDns": [...], ...' for the messages of r, or "" without any. */
export function appJson(r: SockRecord, messages: readonly AppMessage[] | undefined): string {
  if (!messages || messages.length === 0) return "";
  let s = `, "App": "${NAMES[messages[0]!.app]?.[0] ?? "-"}"`;
  const server = r.role === SockRole.SOCK_ROLE_SERVER;
  // seconds since the record's first packet; messages held over from before a record
  // restarted its counters predate that packet: then since the first message, never < 0
  let baseNs = r.tsFirstNs;
  for (const m of messages) if (m.tsNs < baseNs) baseNs = m.tsNs;
  for (const app of [AppKind.APP_DNS, AppKind.APP_HTTP, AppKind.APP_SYSLOG]) {
    const mine = messages.filter((m) => m.app === app);
    if (mine.length === 0) continue;
    // clients list what they sent first, servers what they received (syslog servers not)
    const rxFirst = server && app !== AppKind.APP_SYSLOG;
    for (const rx of rxFirst ? [true, false] : [false, true]) {
      const dir = mine.filter((m) => m.rx === rx);
      if (dir.length === 0) continue;
      const list = decodedJson(app, dir, r, baseNs);
      if (list.length > 0) s += `, "App${rx ? "Rx" : "Tx"}${NAMES[app]![1]}": [${list.join(", ")}]`;
    }
  }
  return s;
}
