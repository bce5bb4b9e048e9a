/** The App* keys of a socket record: its captured messages, decoded (kflowd-spec §5.6). */
import { decodeDns } from "../app/dns.ts";
import { decodeHttp } from "../app/http.ts";
import { bytesText, type MsgValue, msgJson } from "../app/json.ts";
import { decodeSyslog } from "../app/syslog.ts";
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

function decoded(m: AppMessage, r: SockRecord, first: boolean): string {
  let fields: Record<string, MsgValue> | undefined;
  const text = m.app === AppKind.APP_DNS ? "" : bytesText(m.data);
  switch (m.app) {
    case AppKind.APP_DNS:
      fields = decodeDns(m.data, r.proto === IPPROTO_TCP) ?? { _Exception: "DNS Message Decoder" };
      break;
    case AppKind.APP_HTTP:
      // a message that does not start an HTTP message continues the previous one's body
      fields = decodeHttp(text) ?? (first ? { _Exception: "HTTP Message Decoder" } : { _Body: text.slice(0, 127) });
      break;
    default:
      return msgJson(decodeSyslog(text) ?? { _Exception: "SYSLOG Message Decoder", _Message: text });
  }
  const body = msgJson(fields);
  return `{"_Timestamp": ${seconds9(m.tsNs - r.tsFirstNs)}${body === "{}" ? "" : `, ${body.slice(1, -1)}`}}`;
}

/** ', "App": ..., "AppTxDns": [...], ...' for the messages of r, or "" without any. */
export function appJson(r: SockRecord, messages: readonly AppMessage[] | undefined): string {
  if (!messages || messages.length === 0) return "";
  let s = `, "App": "${NAMES[messages[0]!.app]?.[0] ?? "-"}"`;
  const server = r.role === SockRole.SOCK_ROLE_SERVER;
  for (const app of [AppKind.APP_DNS, AppKind.APP_HTTP, AppKind.APP_SYSLOG]) {
    const mine = messages.filter((m) => m.app === app);
    if (mine.length === 0) continue;
    // clients list what they sent first, servers what they received (syslog servers not)
    const rxFirst = server && app !== AppKind.APP_SYSLOG;
    for (const rx of rxFirst ? [true, false] : [false, true]) {
      const dir = mine.filter((m) => m.rx === rx);
      if (dir.length === 0) continue;
      const key = `App${rx ? "Rx" : "Tx"}${NAMES[app]![1]}`;
      s += `, "${key}": [${dir.map((m, i) => decoded(m, r, i === 0)).join(", ")}]`;
    }
  }
  return s;
}
