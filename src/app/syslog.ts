/**
 * SYSLOG messages: RFC 5424, RFC 3164 and the local form programs send to /dev/log
 * ("<13>Nov 26 15:27:10 tag[pid]: text", no host name). Total on any input.
 */
import type { MsgValue } from "./json.ts";

const FACILITIES = [
  "Kernel",
  "User",
  "Mail System",
  "System Daemon",
  "Security/Authorization",
  "Internal",
  "Line Printer",
  "Network News",
  "UUCP",
  "Clock Daemon",
  "Security/Authorization",
  "FTP Daemon",
  "NTP",
  "Log Audit",
  "Log Alert",
  "Clock Daemon",
  "Local0",
  "Local1",
  "Local2",
  "Local3",
  "Local4",
  "Local5",
  "Local6",
  "Local7",
];
const SEVERITIES = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"];
const MAX_MESSAGE = 8192;
const BSD_TIME = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) /;
const TAG = /^([^\s:[\]]{1,48})(?:\[([^\]]{1,16})\])?: ?/;

function nil(s: string | undefined): string | undefined {
  return s === undefined || s === "-" ? undefined : s;
}

/** text without trailing NULs, CRs and LFs (a loop: a regex "[...]+$" is quadratic on runs) */
function trimEnd(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === "\0" || text[end - 1] === "\r" || text[end - 1] === "\n")) end--;
  return text.slice(0, end);
}

/** The JSON members of a syslog message; undefined without a valid <PRI>. */
export function decodeSyslog(text: string): Record<string, MsgValue> | undefined {
  const m = /^<(\d{1,3})>/.exec(text);
  if (!m) return undefined;
  const pri = Number(m[1]);
  if (pri > 191) return undefined;
  const out: Record<string, MsgValue> = {
    Facility: FACILITIES[pri >> 3]!,
    Severity: `${SEVERITIES[pri & 7]} (${pri & 7})`,
    Priority: pri,
  };
  // a trailing newline (TCP's non-transparent framing, many UDP senders) ends, not belongs
  let rest = trimEnd(text.slice(m[0].length));
  const v5424 = /^([1-9]\d{0,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(rest);
  if (v5424) {
    out.Version = Number(v5424[1]);
    const fields: [string, string | undefined][] = [
      ["Timestamp", nil(v5424[2])],
      ["Hostname", nil(v5424[3])],
      ["Appname", nil(v5424[4]) ?? ""],
      ["ProcId", nil(v5424[5])],
      ["MsgId", nil(v5424[6])],
    ];
    for (const [k, x] of fields) if (x !== undefined) out[k] = x;
    rest = rest.slice(v5424[0].length);
    // structured data: "-" or one or more [id param="value" ...] elements
    let data = "";
    if (rest.startsWith("-")) rest = rest.slice(1);
    else {
      while (rest.startsWith("[")) {
        let i = 1;
        for (; i < rest.length && rest[i] !== "]"; i++) if (rest[i] === "\\") i++;
        data += rest.slice(0, i + 1);
        rest = rest.slice(i + 1);
      }
    }
    if (data) out.Data = data;
    out.Message = rest
      .replace(/^ /, "")
      .replace(/^\uFEFF/, "")
      .slice(0, MAX_MESSAGE);
    return out;
  }
  out.Version = 0;
  const t = BSD_TIME.exec(rest);
  if (t) {
    out.Timestamp = t[1]!;
    rest = rest.slice(t[0].length);
  }
  // "host tag[pid]: text" or, sent locally, "tag[pid]: text"
  let tag = TAG.exec(rest);
  if (!tag) {
    const host = /^(\S{1,255}) /.exec(rest);
    const after = host ? TAG.exec(rest.slice(host[0].length)) : null;
    if (host && after) {
      out.Hostname = host[1]!;
      rest = rest.slice(host[0].length);
      tag = after;
    }
  }
  if (tag) {
    out.Appname = tag[1]!;
    if (tag[2]) out.ProcId = tag[2];
    rest = rest.slice(tag[0].length);
  } else {
    out.Appname = "";
  }
  out.Message = rest.slice(0, MAX_MESSAGE);
  return out;
}

/** most messages cut from one capture of a TCP stream */
const MAX_STREAM_MESSAGES = 32;
const LF = 0x0a;

/**
 * The syslog messages in one capture of a TCP stream (RFC 6587): octet-counted frames
 * ("LEN <PRI>...") or frames ended by a newline; a last frame may be cut short.
 */
export function splitSyslog(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length && out.length < MAX_STREAM_MESSAGES - 1) {
    // octet counting: a decimal length, a space, then that many bytes (a message's "<")
    let q = p;
    let len = 0;
    while (q < bytes.length && q - p < 6 && bytes[q]! >= 0x30 && bytes[q]! <= 0x39) len = len * 10 + bytes[q++]! - 0x30;
    if (q > p && q + 1 < bytes.length && bytes[q] === 0x20 && bytes[q + 1] === 0x3c) {
      out.push(bytes.subarray(q + 1, Math.min(bytes.length, q + 1 + len)));
      p = q + 1 + len;
      continue;
    }
    const nl = bytes.indexOf(LF, p);
    if (nl < 0) break;
    if (nl > p) out.push(bytes.subarray(p, nl));
    p = nl + 1;
  }
  if (p < bytes.length) out.push(bytes.subarray(p));
  return out;
}
