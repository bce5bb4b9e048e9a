/**
 * HTTP/1.x messages: request or status line, headers in wire order, the start of the
 * body. Total on any input: bytes that are no HTTP message yield undefined.
 */
import type { MsgValue } from "./json.ts";

const MAX_HEADERS = 64;
const MAX_VALUE = 1024;
const MAX_BODY = 127;
const REQUEST = /^([A-Z][A-Z-]{0,15}) (\S{1,8192}) (HTTP\/\d\.\d)$/;
const STATUS = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;

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
    if (name.startsWith("_") || name in out) continue;
    out[name] = line.slice(colon + 1).trim().slice(0, MAX_VALUE);
  }
  if (headEnd >= 0) {
    const body = text.slice(headEnd).replace(/^\r?\n\r?\n/, "");
    if (body !== "") out._Body = body.slice(0, MAX_BODY);
  }
  return out;
}
