/**
 * DNS messages (RFC 1035), over UDP or, with its 2-byte length prefix, TCP. Total on any
 * input: a malformed message yields undefined, never an exception or a hang (name
 * compression may only point backwards, and names are bounded).
 */
import { ipv6 } from "../records/ip-text.ts";
import type { MsgValue } from "./json.ts";

const OPCODES = ["QUERY", "IQUERY", "STATUS", "-", "NOTIFY", "UPDATE", "DSO"];
/** kflowd's names for 0-3 (FORMERROR, not FORMERR: pipelines match it), then IANA's */
const RCODES = [
  "NOERROR",
  "FORMERROR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "YXDOMAIN",
  "YXRRSET",
  "NXRRSET",
  "NOTAUTH",
  "NOTZONE",
  "DSOTYPENI",
];
const TYPES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
  64: "SVCB",
  65: "HTTPS",
};
const CLASSES: Record<number, string> = { 1: "IN", 3: "CH", 4: "HS", 255: "ANY" };
/** most resource records listed per message */
const MAX_RECORDS = 32;
/** most characters of names and data listed per message (compression lets 4 KiB say far more) */
const MAX_TEXT = 8192;
/** most messages cut from one direction's TCP captures */
const MAX_TCP_MESSAGES = 64;
const MAX_NAME = 255;

class Malformed extends Error {}

function u16(b: Uint8Array, off: number): number {
  if (off + 2 > b.length) throw new Malformed();
  return (b[off]! << 8) | b[off + 1]!;
}

function u32(b: Uint8Array, off: number): number {
  return u16(b, off) * 0x10000 + u16(b, off + 2);
}

/** Reads a (possibly compressed) name at off; returns [name, offset after it]. */
function readName(b: Uint8Array, off: number): [string, number] {
  const labels: string[] = [];
  let length = 0;
  let end = -1;
  let pos = off;
  // a pointer must go strictly backwards: no loops, at most b.length jumps
  let limit = pos;
  for (let guard = 0; guard < 256; guard++) {
    if (pos >= b.length) throw new Malformed();
    const len = b[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return [labels.length ? labels.join(".") : ".", end];
    }
    if ((len & 0xc0) === 0xc0) {
      const target = u16(b, pos) & 0x3fff;
      if (target >= limit) throw new Malformed();
      if (end < 0) end = pos + 2;
      limit = target;
      pos = target;
      continue;
    }
    if (len & 0xc0 || pos + 1 + len > b.length) throw new Malformed();
    length += len + 1;
    if (length > MAX_NAME) throw new Malformed();
    let label = "";
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = b[i]!;
      label += c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString().padStart(3, "0")}`;
    }
    labels.push(label);
    pos += len + 1;
  }
  throw new Malformed();
}

function typeName(t: number): string {
  return TYPES[t] ?? String(t);
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** The data of a record as text; a name or number that runs past the data is malformed. */
function rdataText(message: Uint8Array, type: number, off: number, len: number): string {
  const end = off + len;
  if (end > message.length) throw new Malformed();
  // the message cut at the end of the data: compressed names still reach back into it
  const b = message.subarray(0, end);
  switch (type) {
    case 1:
      if (len !== 4) throw new Malformed();
      return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
    case 28:
      if (len !== 16) throw new Malformed();
      return ipv6(b.subarray(off, end));
    case 2:
    case 5:
    case 12:
      return readName(b, off)[0];
    case 15:
      return `${u16(b, off)} ${readName(b, off + 2)[0]}`;
    case 16: {
      const parts: string[] = [];
      for (let p = off; p < end; ) {
        const n = b[p]!;
        if (p + 1 + n > end) throw new Malformed();
        parts.push(utf8.decode(b.subarray(p + 1, p + 1 + n)));
        p += 1 + n;
      }
      return parts.join("");
    }
    case 6: {
      const [mname, a] = readName(b, off);
      const [rname, c] = readName(b, a);
      const nums = [0, 4, 8, 12, 16].map((d) => u32(b, c + d));
      return [mname, rname, ...nums].join(" ");
    }
    case 33:
      return `${u16(b, off)} ${u16(b, off + 2)} ${u16(b, off + 4)} ${readName(b, off + 6)[0]}`;
    case 64:
    case 65:
      return `${u16(b, off)} ${readName(b, off + 2)[0]}`;
    default:
      return Array.from(b.subarray(off, end), (x) => x.toString(16).padStart(2, "0")).join("");
  }
}

/** Marks the end of a list of records when some could not be listed (kflowd's "~"). */
const MORE = "~";

/**
 * The JSON members of a DNS message, in kflowd's order; undefined if malformed. Over TCP
 * the message starts with its 2-byte length, and bytes after that length are ignored.
 * A truncated message (the capture ended before it did, which a TCP length shows by
 * itself) lists the records that were captured whole, then "~"; its header must be there.
 */
export function decodeDns(input: Uint8Array, tcp: boolean, truncated = false): Record<string, MsgValue> | undefined {
  try {
    let b = input;
    if (tcp) {
      const len = u16(input, 0);
      if (len > input.length - 2) truncated = true;
      b = input.subarray(2, 2 + len);
    }
    const id = u16(b, 0);
    const flags = u16(b, 2);
    const qd = u16(b, 4);
    const an = u16(b, 6);
    const qr = (flags & 0x8000) !== 0;
    const out: Record<string, MsgValue> = { TransactionId: id };
    if (!qr) out.OpCode = OPCODES[(flags >> 11) & 0xf] ?? "-";
    else out.ResponseCode = RCODES[flags & 0xf] ?? String(flags & 0xf);
    const names: [number, string][] = [
      [0x8000, "QR"],
      [0x0400, "AA"],
      [0x0200, "TC"],
      [0x0100, "RD"],
      [0x0080, "RA"],
    ];
    out.Flags = names.filter(([bit]) => flags & bit).map(([, n]) => n);
    if (qr) out.AnswerCount = an;
    const listed: MsgValue[] = [];
    out.ResourceRecords = listed;
    // queries list their questions, responses their answers (kflowd shows no other section)
    let text = 0;
    /** lists an entry while the text budget lasts */
    const list = (entry: MsgValue, chars: number): boolean => {
      text += chars;
      if (text > MAX_TEXT) return false;
      listed.push(entry);
      return true;
    };
    try {
      let off = 12;
      let room = true;
      for (let i = 0; i < qd; i++) {
        const [name, next] = readName(b, off);
        const type = u16(b, next);
        u16(b, next + 2);
        if (!qr && room && i < MAX_RECORDS) room = list([typeName(type), name], name.length);
        off = next + 4;
      }
      for (let i = 0; qr && i < an && i < MAX_RECORDS; i++) {
        const [name, next] = readName(b, off);
        const type = u16(b, next);
        const cls = u16(b, next + 2);
        const ttl = u32(b, next + 4);
        const len = u16(b, next + 8);
        const data = rdataText(b, type, next + 10, len);
        if (!list([typeName(type), name, ttl, CLASSES[cls] ?? String(cls), data], name.length + data.length)) break;
        off = next + 10 + len;
      }
    } catch (e) {
      // a truncated message lists what was captured whole
      if (!(e instanceof Malformed) || !truncated) throw e;
    }
    if (listed.length < (qr ? an : qd)) listed.push(MORE);
    return out;
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}

/** One piece of a TCP byte stream as captured: its first bytes, and its whole length. */
export interface StreamChunk {
  readonly data: Uint8Array;
  /** bytes of the piece; more than data.length when the capture ended early */
  readonly len: number;
}

/** A DNS message cut from a TCP stream, length prefix included. */
export interface TcpDnsMessage {
  /** index of the chunk the message starts in */
  readonly chunk: number;
  readonly bytes: Uint8Array;
  /** some of its bytes were not captured */
  readonly truncated: boolean;
}

/**
 * The DNS messages of one direction of a TCP stream, from the chunks the sender wrote or
 * the receiver read in order: a length prefix may come alone (dnsmasq reads it byte by
 * byte), and one chunk may hold several messages. Where uncaptured bytes hide the next
 * length, the framing restarts at the next chunk.
 */
export function dnsTcpMessages(chunks: readonly StreamChunk[]): TcpDnsMessage[] {
  const out: TcpDnsMessage[] = [];
  let parts: Uint8Array[] = [];
  let have = 0;
  let need = -1;
  let start = 0;
  let gap = false;
  const emit = (truncated: boolean): void => {
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    out.push({ chunk: start, bytes, truncated: truncated || gap });
    parts = [];
    have = 0;
    need = -1;
    gap = false;
  };
  for (let i = 0; i < chunks.length && out.length < MAX_TCP_MESSAGES; i++) {
    const { data, len } = chunks[i]!;
    for (let p = 0; p < data.length; ) {
      if (have === 0) start = i;
      const take = Math.min((need < 0 ? 2 : need) - have, data.length - p);
      if (!gap) parts.push(data.subarray(p, p + take));
      have += take;
      p += take;
      if (need < 0 && have === 2) {
        const prefix = parts.length === 1 ? parts[0]! : new Uint8Array([parts[0]![0]!, parts[1]![0]!]);
        need = 2 + ((prefix[0]! << 8) | prefix[1]!);
      }
      if (have === need) emit(false);
    }
    const missing = len - data.length;
    if (missing <= 0) continue;
    if (need >= 0 && have + missing <= need) {
      // the uncaptured bytes are inside the current message
      have += missing;
      gap = true;
      if (have === need) emit(true);
    } else {
      if (have === 0) start = i;
      emit(true);
    }
  }
  if (have > 0 && out.length < MAX_TCP_MESSAGES) emit(true);
  return out.slice(0, MAX_TCP_MESSAGES);
}

/** An address a DNS response resolved a name to. */
export interface ResolvedAddress {
  /** 4 bytes (A) or 16 (AAAA) */
  readonly addr: Uint8Array;
  /** the name asked for: the head of the CNAME chain that ends at the address record */
  readonly name: string;
  /** seconds the answer may be used: the least TTL along that chain */
  readonly ttl: number;
}

/** most answers of one response looked at, and most CNAME links followed from one */
const MAX_RESOLVED_ANSWERS = 128;
const MAX_CHAIN = 16;

/**
 * The addresses a successful DNS response (QR set, NOERROR) resolved names to, with the
 * name asked for; undefined if the bytes are no such response. Over TCP the message
 * starts with its 2-byte length. The answers captured whole count when the capture ended
 * early. Total on any input, as decodeDns.
 */
export function dnsResolved(input: Uint8Array, tcp: boolean): ResolvedAddress[] | undefined {
  try {
    const b = tcp ? input.subarray(2, 2 + u16(input, 0)) : input;
    const flags = u16(b, 2);
    if ((flags & 0x8000) === 0 || (flags & 0xf) !== 0) return undefined;
    const qd = u16(b, 4);
    const an = u16(b, 6);
    const out: ResolvedAddress[] = [];
    /** CNAME target -> [owner, TTL], lower-cased targets (names compare without case) */
    const aliasOf = new Map<string, [string, number]>();
    const found: [Uint8Array, string, number][] = [];
    try {
      let off = 12;
      for (let i = 0; i < qd; i++) off = readName(b, off)[1] + 4;
      for (let i = 0; i < an && i < MAX_RESOLVED_ANSWERS; i++) {
        const [name, next] = readName(b, off);
        const type = u16(b, next);
        const ttl = u32(b, next + 4);
        const len = u16(b, next + 8);
        const data = next + 10;
        if (data + len > b.length) break;
        if (type === 1 && len === 4) found.push([b.slice(data, data + 4), name, ttl]);
        else if (type === 28 && len === 16) found.push([b.slice(data, data + 16), name, ttl]);
        else if (type === 5) aliasOf.set(readName(b.subarray(0, data + len), data)[0].toLowerCase(), [name, ttl]);
        off = data + len;
      }
    } catch (e) {
      // a capture that ended early: what was read whole counts
      if (!(e instanceof Malformed)) throw e;
    }
    for (const [addr, owner, ttl] of found) {
      let name = owner;
      let least = ttl;
      for (let i = 0; i < MAX_CHAIN; i++) {
        const alias = aliasOf.get(name.toLowerCase());
        if (alias === undefined) break;
        name = alias[0];
        least = Math.min(least, alias[1]);
      }
      out.push({ addr, name, ttl: least });
    }
    return out;
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}
