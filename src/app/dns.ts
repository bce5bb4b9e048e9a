/**
 * DNS messages (RFC 1035), over UDP or, with its 2-byte length prefix, TCP. Total on any
 * input: a malformed message yields undefined, never an exception or a hang (name
 * compression may only point backwards, and names are bounded).
 */
import { ipv6 } from "../format/addr.ts";
import type { MsgValue } from "./json.ts";

const OPCODES = ["QUERY", "IQUERY", "STATUS", "-", "NOTIFY", "UPDATE", "DSO"];
const RCODES = [
  "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
];
const TYPES: Record<number, string> = {
  1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 64: "SVCB", 65: "HTTPS",
};
const CLASSES: Record<number, string> = { 1: "IN", 3: "CH", 4: "HS", 255: "ANY" };
/** most resource records listed per message */
const MAX_RECORDS = 32;
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

function rdataText(b: Uint8Array, type: number, off: number, len: number): string {
  const end = off + len;
  if (end > b.length) throw new Malformed();
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
        parts.push(new TextDecoder().decode(b.subarray(p + 1, p + 1 + n)));
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

/** The JSON members of a DNS message, in kflowd's order; undefined if malformed. */
export function decodeDns(input: Uint8Array, tcp: boolean): Record<string, MsgValue> | undefined {
  try {
    const b = tcp ? input.subarray(2) : input;
    const id = u16(b, 0);
    const flags = u16(b, 2);
    const qd = u16(b, 4);
    const an = u16(b, 6);
    const qr = (flags & 0x8000) !== 0;
    const out: Record<string, MsgValue> = { TransactionId: id };
    if (!qr) out.OpCode = OPCODES[(flags >> 11) & 0xf] ?? "-";
    else out.ResponseCode = RCODES[flags & 0xf] ?? String(flags & 0xf);
    const names: [number, string][] = [
      [0x8000, "QR"], [0x0400, "AA"], [0x0200, "TC"], [0x0100, "RD"], [0x0080, "RA"],
    ];
    out.Flags = names.filter(([bit]) => flags & bit).map(([, n]) => n);
    if (qr) out.AnswerCount = an;
    let off = 12;
    const questions: MsgValue[] = [];
    for (let i = 0; i < qd && i < MAX_RECORDS; i++) {
      const [name, next] = readName(b, off);
      questions.push([typeName(u16(b, next)), name]);
      off = next + 4;
    }
    if (!qr) {
      out.ResourceRecords = questions;
      return out;
    }
    // skip the questions of a response we did not list (more than MAX_RECORDS)
    for (let i = MAX_RECORDS; i < qd; i++) off = readName(b, off)[1] + 4;
    const answers: MsgValue[] = [];
    for (let i = 0; i < an && i < MAX_RECORDS; i++) {
      const [name, next] = readName(b, off);
      const type = u16(b, next);
      const cls = u16(b, next + 2);
      const ttl = u32(b, next + 4);
      const len = u16(b, next + 8);
      answers.push([typeName(type), name, ttl, CLASSES[cls] ?? String(cls), rdataText(b, type, next + 10, len)]);
      off = next + 10 + len;
    }
    out.ResourceRecords = answers;
    return out;
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}
