/**
 * HTTP/1.x messages: request or status line, headers in wire order, the start of the
 * body. Total on any input: bytes that are no HTTP message yield undefined.
 */
import type { MsgValue } from "./json.ts";

const MAX_HEADERS = 64;
const MAX_VALUE = 1024;
const MAX_BODY = 127;
/** most messages cut from one capture (pipelining) */
const MAX_MESSAGES = 32;
const REQUEST = /^([A-Z][A-Z-]{0,15}) (\S{1,8192}) (HTTP\/\d\.\d)$/;
const STATUS = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;
const HEAD_END = /\r?\n\r?\n/g;

/** The JSON members of an HTTP message; undefined if the bytes do not start one. */
export function decodeHttp(text: string): Record<string, MsgValue> | undefined {
  const headEnd = text.search(/\r?\n\r?\n/);
  const head = headEnd >= 0 ? text.slice(0, headEnd) : text;
  const lines = head.split(/\r?\n/);
  const first = lines[0] ?? "";
  const out: Record<string, MsgValue> = {};
  const req = REQUEST.exec(first);
  const status = req ? null : STATUS.exec(first);
  if (req) {
    out._Method = req[1]!;
    out._Url = req[2]!;
    out._Version = req[3]!;
  } else if (status) {
    out._Version = status[1]!;
    out._Status = Number(status[2]);
    if (status[3]) out._Reason = status[3];
  } else {
    return undefined;
  }
  for (const line of lines.slice(1, 1 + MAX_HEADERS)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    // own keys only: "constructor" or "toString" are header names like any other
    if (name.startsWith("_") || Object.hasOwn(out, name)) continue;
    out[name] = line
      .slice(colon + 1)
      .trim()
      .slice(0, MAX_VALUE);
  }
  if (headEnd >= 0) {
    const body = text.slice(headEnd).replace(/^\r?\n\r?\n/, "");
    if (body !== "") out._Body = body.slice(0, MAX_BODY);
  }
  return out;
}

/** Whether a request or status line starts at text[at]. */
function startsMessage(text: string, at: number): boolean {
  const nl = text.indexOf("\n", at);
  const line = text.slice(at, nl < 0 ? text.length : nl).replace(/\r$/, "");
  return REQUEST.test(line) || STATUS.test(line);
}

/** Where a chunked body starting at text[at] ends (after its last CRLF), or -1. */
function chunkedEnd(text: string, at: number): number {
  for (let p = at; ; ) {
    const nl = text.indexOf("\n", p);
    if (nl < 0) return -1;
    const size = /^([0-9a-fA-F]{1,8})(?:;[^\r\n]*)?\r?$/.exec(text.slice(p, nl));
    if (!size) return -1;
    const n = parseInt(size[1]!, 16);
    if (n === 0) {
      // trailer fields up to an empty line
      for (let q = nl + 1; ; ) {
        const end = text.indexOf("\n", q);
        if (end < 0) return -1;
        if (end === q || (end === q + 1 && text[q] === "\r")) return end + 1;
        q = end + 1;
      }
    }
    p = nl + 1 + n;
    if (text.startsWith("\r\n", p)) p += 2;
    else if (text[p] === "\n") p += 1;
    else return -1;
  }
}

/** Where the message starting at text[at] ends, by its framing; -1 if unknown here. */
function messageEnd(text: string, at: number): number {
  HEAD_END.lastIndex = at;
  const blank = HEAD_END.exec(text);
  if (!blank) return -1;
  const bodyAt = blank.index + blank[0].length;
  const lines = text.slice(at, blank.index).split(/\r?\n/);
  const status = STATUS.exec(lines[0]!);
  let length: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1, 1 + MAX_HEADERS)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (colon <= 0) continue;
    if (name === "content-length" && /^\d{1,15}$/.test(value)) length = Number(value);
    else if (name === "transfer-encoding" && value.toLowerCase().split(",").pop()!.trim() === "chunked") chunked = true;
  }
  if (status) {
    const code = Number(status[2]);
    if (code < 200 || code === 204 || code === 304) return bodyAt;
  }
  if (chunked) return chunkedEnd(text, bodyAt);
  if (length !== undefined) return bodyAt + length;
  // a request without a body length has none; a response's body lasts to the close
  return status ? -1 : bodyAt;
}

const latin1 = new TextDecoder("latin1");

/**
 * The HTTP messages in one capture: pipelined requests, or responses that came in one
 * read, are cut where each one's framing (Content-Length, chunked, none) ends and the
 * next request or status line starts. Anything else stays with the message before it.
 */
export function splitHttp(bytes: Uint8Array): Uint8Array[] {
  // one character per byte, so that text offsets are byte offsets
  const text = latin1.decode(bytes);
  const out: Uint8Array[] = [];
  let start = 0;
  while (out.length < MAX_MESSAGES - 1) {
    const end = messageEnd(text, start);
    if (end <= start || end >= text.length || !startsMessage(text, end)) break;
    out.push(bytes.subarray(start, end));
    start = end;
  }
  out.push(bytes.subarray(start));
  return out;
}
