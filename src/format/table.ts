/**
 * -o table: one aligned row per file or socket record, for people watching a terminal.
 *
 * Columns (fixed widths, one space apart; the last one takes the rest of the line):
 *   TIME(UTC)  processing time of day, HH:MM:SS.mmm in UTC (as InfoTimestamp)
 *   EVENTS     file: F/S/H/? (regular, symlink, hardlink, unknown) and two-letter event codes;
 *              socket: protocol and state ("TCP CLOSE", "UDP ESTAB", "UNIX DGRAM")
 *   COUNT      file: events; socket: packets (sent + received)
 *   DURATION   seconds, 3 decimals: file first to last event; socket age
 *   PROCESS PPID PID
 *   INODE/TX   file: inode; socket: sent bytes/packets
 *   SIZE/RX    file: size; socket: received bytes/packets
 *   LAST ACCESS  file: its access time, MM-DD HH:MM:SS in UTC (kflowd's column); socket: -
 *   #          sequence number
 *   PATH/ENDPOINTS  file: path, renames "oldname>newpath"; socket: "local -> remote" (client) or
 *              "local <- remote" (server), a UNIX socket's address, then app messages ("DNS 2");
 *              after kflowd's, the name the remote address was resolved from ("(kflowd.test)")
 *              and the container ("[0123456789ab]", the short id: its first 12 hex digits)
 * When the line is too narrow, whole columns are left out (# first, then PPID, DURATION, SIZE/RX,
 * INODE/TX, LAST ACCESS, COUNT) so the last column keeps MIN_FREE columns. Every cell is cut to its width
 * ("…" marks cut text, "+" cut event codes; numbers too long are shortened with k/M/G/T = 10^3..);
 * control and format characters and backslashes are escaped, so a row is always one line of
 * at most `width` terminal columns.
 */
import type { AppMessage } from "../records/app.ts";
import type { FileRecord } from "../records/file.ts";
import { AppKind, SockRole } from "../records/layout.gen.ts";
import { AF_INET, AF_UNIX, IPPROTO_TCP } from "../records/net.ts";
import type { SockDirection, SockRecord } from "../records/sock.ts";
import type { TaskIdentity } from "../records/task.ts";
import { ipv4, ipv6 } from "../records/ip-text.ts";
import { procName } from "./common.ts";
import { FS_EVENT_NAMES, type FormatContext } from "./file-json.ts";
import { fileMode } from "./values.ts";

/** Columns the last (free-text) column keeps before fixed columns are left out. */
export const MIN_FREE = 36;

const COL = {
  TIME: 0,
  EVENTS: 1,
  COUNT: 2,
  DURATION: 3,
  PROCESS: 4,
  PPID: 5,
  PID: 6,
  TX: 7,
  RX: 8,
  ATIME: 9,
  SEQ: 10,
  FREE: 11,
} as const;
type ColId = (typeof COL)[keyof typeof COL];

interface ColumnSpec {
  readonly id: ColId;
  readonly title: string;
  readonly width: number;
  readonly right: boolean;
  /** order in which the column is left out on narrow lines (1 first); 0: never */
  readonly drop: number;
}

const SPECS: readonly ColumnSpec[] = [
  { id: COL.TIME, title: "TIME(UTC)", width: 12, right: false, drop: 0 },
  { id: COL.EVENTS, title: "EVENTS", width: 14, right: false, drop: 0 },
  { id: COL.COUNT, title: "COUNT", width: 5, right: true, drop: 7 },
  { id: COL.DURATION, title: "DURATION", width: 8, right: true, drop: 3 },
  { id: COL.PROCESS, title: "PROCESS", width: 15, right: false, drop: 0 },
  { id: COL.PPID, title: "PPID", width: 7, right: true, drop: 2 },
  { id: COL.PID, title: "PID", width: 7, right: true, drop: 0 },
  { id: COL.TX, title: "INODE/TX", width: 10, right: true, drop: 5 },
  { id: COL.RX, title: "SIZE/RX", width: 10, right: true, drop: 4 },
  { id: COL.ATIME, title: "LAST ACCESS", width: 14, right: false, drop: 6 },
  { id: COL.SEQ, title: "#", width: 8, right: true, drop: 1 },
];
const FREE_TITLE = "PATH/ENDPOINTS";

/** A column as laid out for one width. */
interface Column {
  readonly id: ColId;
  readonly title: string;
  readonly width: number;
  readonly right: boolean;
}

/** Two-letter codes of the file events, indexed by FsEvent (kflowd-spec §2.1). */
const CODE_OF: Record<string, string> = {
  CREATE: "CR",
  OPEN: "OP",
  OPEN_EXEC: "OX",
  ACCESS: "AC",
  ATTRIB: "AT",
  MODIFY: "MO",
  CLOSE_WRITE: "CW",
  CLOSE_NOWRITE: "CN",
  MOVED_FROM: "MF",
  MOVED_TO: "MT",
  DELETE: "DE",
};
export const EVENT_CODES: readonly string[] = FS_EVENT_NAMES.map((n) => CODE_OF[n] ?? n.slice(0, 2));

/** Kernel TCP states (include/net/tcp_states.h) without the TCP_ prefix, ESTABLISHED as ss's ESTAB. */
const TCP_STATES = [
  "NONE",
  "ESTAB",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "CLOSING",
  "NEW_SYN_RECV",
  "BOUND_INACTIVE",
];
const UNIX_TYPES: Record<number, string> = { 1: "UNIX STREAM", 2: "UNIX DGRAM", 5: "UNIX SEQPACKET" };
const APP_NAMES: Record<number, string> = {
  [AppKind.APP_DNS]: "DNS",
  [AppKind.APP_HTTP]: "HTTP",
  [AppKind.APP_SYSLOG]: "SYSLOG",
};
const APP_ORDER = [AppKind.APP_DNS, AppKind.APP_HTTP, AppKind.APP_SYSLOG];

// ---------------------------------------------------------------- text safety and width

/** Printable ASCII except the backslash: shown as is. */
const PLAIN = /^[\x20-\x5b\x5d-\x7e]*$/;
/** Printable ASCII: one column per character. */
const ASCII = /^[\x20-\x7e]*$/;
/** Controls (C0, DEL, C1), format characters (bidi overrides, zero-width), line/paragraph
 *  separators, lone surrogates, and the backslash that starts our escapes. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\\]/gu;
const NON_SPACING = /^[\p{Mn}\p{Me}]$/u;

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, "0");
}

function escapeChar(ch: string): string {
  switch (ch) {
    case "\\":
      return "\\\\";
    case "\n":
      return "\\n";
    case "\t":
      return "\\t";
    case "\r":
      return "\\r";
  }
  const cp = ch.codePointAt(0)!;
  if (cp < 0x100) return `\\x${hex(cp, 2)}`;
  return cp < 0x10000 ? `\\u${hex(cp, 4)}` : `\\u{${hex(cp, 1)}}`;
}

/** s with everything that could move the cursor or reorder text written as a visible escape. */
export function escapeText(s: string): string {
  return PLAIN.test(s) ? s : s.replace(UNSAFE, escapeChar);
}

/** East Asian wide/fullwidth and emoji-presentation ranges (an over-approximation: a cell may
 *  come out one column short of its width, never one too long). Sorted, inclusive pairs. */
const WIDE = [
  0x1100, 0x115f, 0x20e3, 0x20e3, 0x231a, 0x231b, 0x2329, 0x232a, 0x23e9, 0x23ec, 0x23f0, 0x23f0, 0x23f3, 0x23f3, 0x25fd, 0x25fe, 0x2614,
  0x2615, 0x2630, 0x2637, 0x2648, 0x2653, 0x267f, 0x267f, 0x268a, 0x268f, 0x2693, 0x2693, 0x26a1, 0x26a1, 0x26aa, 0x26ab, 0x26bd, 0x26be,
  0x26c4, 0x26c5, 0x26ce, 0x26ce, 0x26d4, 0x26d4, 0x26ea, 0x26ea, 0x26f2, 0x26f3, 0x26f5, 0x26f5, 0x26fa, 0x26fa, 0x26fd, 0x26fd, 0x2705,
  0x2705, 0x270a, 0x270b, 0x2728, 0x2728, 0x274c, 0x274c, 0x274e, 0x274e, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797, 0x27b0, 0x27b0,
  0x27bf, 0x27bf, 0x2b1b, 0x2b1c, 0x2b50, 0x2b50, 0x2b55, 0x2b55, 0x2e80, 0xa4cf, 0xa960, 0xa97f, 0xac00, 0xd7a3, 0xf900, 0xfaff, 0xfe10,
  0xfe19, 0xfe30, 0xfe6f, 0xff00, 0xff60, 0xffe0, 0xffe6, 0x16fe0, 0x16fff, 0x17000, 0x18dff, 0x1aff0, 0x1b2ff, 0x1d300, 0x1d376, 0x1f004,
  0x1f004, 0x1f0cf, 0x1f0cf, 0x1f18e, 0x1f18e, 0x1f191, 0x1f19a, 0x1f1e6, 0x1f2ff, 0x1f300, 0x1f64f, 0x1f680, 0x1f6ff, 0x1f7e0, 0x1f7eb,
  0x1f7f0, 0x1f7f0, 0x1f90c, 0x1f9ff, 0x1fa70, 0x1faff, 0x20000, 0x2fffd, 0x30000, 0x3fffd,
];

/** Terminal columns of one code point of escaped text. */
function cpWidth(cp: number, ch: string): number {
  if (cp < 0x300) return 1;
  // emoji presentation selector: widens the symbol before it, count it so the pair is 2
  if (cp === 0xfe0f) return 1;
  if (cp >= 0x1100 && cp <= 0x3fffd) {
    let lo = 0;
    let hi = WIDE.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cp < WIDE[2 * mid]!) hi = mid - 1;
      else if (cp > WIDE[2 * mid + 1]!) lo = mid + 1;
      else return 2;
    }
  }
  return NON_SPACING.test(ch) ? 0 : 1;
}

/** Terminal columns of escaped text. */
export function textWidth(s: string): number {
  if (ASCII.test(s)) return s.length;
  let w = 0;
  for (const ch of s) w += cpWidth(ch.codePointAt(0)!, ch);
  return w;
}

/** Escaped text cut to at most w columns, keeping its start; "…" marks the cut. */
function fitHead(s: string, w: number): string {
  if (w <= 0) return "";
  if (ASCII.test(s)) return s.length <= w ? s : `${s.slice(0, w - 1)}…`;
  if (textWidth(s) <= w) return s;
  let used = 0;
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const cw = cpWidth(cp, s.slice(i, i + n));
    if (used + cw > w - 1) break;
    used += cw;
    i += n;
  }
  return `${s.slice(0, i)}…`;
}

/** Escaped text cut to at most w columns, keeping its end; "…" marks the cut. */
function fitTail(s: string, w: number): string {
  if (w <= 0) return "";
  if (ASCII.test(s)) return s.length <= w ? s : `…${s.slice(s.length - (w - 1))}`;
  if (textWidth(s) <= w) return s;
  let used = 0;
  let i = s.length;
  while (i > 0) {
    const low = s.charCodeAt(i - 1);
    const n = low >= 0xdc00 && low <= 0xdfff && i >= 2 && (s.charCodeAt(i - 2) & 0xfc00) === 0xd800 ? 2 : 1;
    const ch = s.slice(i - n, i);
    const cw = cpWidth(ch.codePointAt(0)!, ch);
    if (used + cw > w - 1) break;
    used += cw;
    i -= n;
  }
  return `…${s.slice(i)}`;
}

// ---------------------------------------------------------------- values

const SPACES = " ".repeat(256);

function spaces(n: number): string {
  return n <= SPACES.length ? SPACES.slice(0, n) : " ".repeat(n);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

/** ns since the epoch as the UTC time of day "HH:MM:SS.mmm". */
export function clock(ns: bigint): string {
  const ms = Number((ns / 1_000_000n) % 86_400_000n);
  const s = Math.floor(ms / 1000);
  return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}.${pad3(ms % 1000)}`;
}

const UNITS = "kMGTPE";

/** A count in at most w characters: exact when it fits, else "12.3k", "456M", ... (powers of 1000). */
export function compact(n: number, w: number): string {
  const exact = `${n}`;
  if (exact.length <= w) return exact;
  let v = n;
  for (const unit of UNITS) {
    v /= 1000;
    const short = v < 9.95 ? `${v.toFixed(1)}${unit}` : `${Math.round(v)}${unit}`;
    if (Math.round(v) < 1000 && short.length <= w) return short;
  }
  return fitHead(exact, w);
}

/** ns since the epoch as the UTC date and time "MM-DD HH:MM:SS". */
export function dayTime(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  return `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/** ns as seconds with 3 decimals ("0.250"); whole seconds (shortened like counts) when that is too wide. */
export function duration(ns: bigint, w: number): string {
  const neg = ns < 0n;
  const ms = Number((neg ? -ns : ns) / 1_000_000n);
  const sign = neg ? "-" : "";
  const whole = Math.floor(ms / 1000);
  const s = `${sign}${whole}.${pad3(ms % 1000)}`;
  return s.length <= w ? s : `${sign}${compact(whole, w - sign.length)}`;
}

/** kind letter and two-letter codes of the events that occurred: "F,CR,OP,MO,CW"; "+" when cut. */
function fileEvents(r: FileRecord, w: number): string {
  const mode = r.mode === 0 ? "" : fileMode(r.mode, r.nlink);
  const kind = mode === "" ? "?" : mode === "symlink" ? "S" : mode === "hardlink" ? "H" : "F";
  let n = 0;
  for (const c of r.eventCounts) if (c !== 0) n++;
  const full = 1 + 3 * n <= w;
  let s = kind;
  for (let i = 0; i < r.eventCounts.length; i++) {
    if (r.eventCounts[i] === 0) continue;
    if (!full && s.length + 3 > w - 1) return `${s}+`.slice(0, Math.max(0, w));
    s += `,${EVENT_CODES[i] ?? "??"}`;
  }
  return s.slice(0, Math.max(0, w));
}

function sockKind(r: SockRecord): string {
  if (r.family === AF_UNIX) return UNIX_TYPES[r.type] ?? "UNIX";
  if (r.proto === IPPROTO_TCP) return `TCP ${TCP_STATES[r.state] ?? r.state}`;
  return r.state === 1 ? "UDP ESTAB" : "UDP CLOSE";
}

function endpoint(r: SockRecord, addr: Uint8Array, port: number): string {
  return r.family === AF_INET ? `${ipv4(addr)}:${port}` : `[${ipv6(addr)}]:${port}`;
}

/** Two escaped texts side by side around sep in at most w columns, each keeping its end. */
function pair(a: string, sep: string, b: string, w: number): string {
  const aw = textWidth(a);
  const bw = textWidth(b);
  const room = w - sep.length;
  if (aw + bw <= room) return `${a}${sep}${b}`;
  if (room < 2) return fitTail(`${a}${sep}${b}`, w);
  // the shorter one stays whole when it fits in half; the other gets the rest
  let aRoom = Math.floor(room / 2);
  if (aw < aRoom) aRoom = aw;
  else if (bw < room - aRoom) aRoom = room - bw;
  return `${fitTail(a, aRoom)}${sep}${fitTail(b, room - aRoom)}`;
}

/** "DNS 2" for the decoded app messages, kinds in DNS, HTTP, SYSLOG order; "" without any. */
export function appSummary(messages: readonly AppMessage[]): string {
  if (messages.length === 0) return "";
  let s = "";
  for (const app of APP_ORDER) {
    let n = 0;
    for (const m of messages) if (m.app === app) n++;
    if (n !== 0) s += `${s === "" ? "" : " "}${APP_NAMES[app]} ${n}`;
  }
  let other = 0;
  for (const m of messages) if (APP_NAMES[m.app] === undefined) other++;
  if (other !== 0) s += `${s === "" ? "" : " "}APP ${other}`;
  return s;
}

/** s, then two spaces and extra if there is room for any of it (extra cut to fit); "" adds nothing. */
function then(s: string, extra: string, w: number): string {
  const rest = w - textWidth(s) - 2;
  return extra !== "" && rest >= 1 ? `${s}  ${fitHead(extra, rest)}` : s;
}

/** "[0123456789ab]": the short id of the record's container, or "" */
function container(task: TaskIdentity, ctx: FormatContext): string {
  if (task.cgroupId === 0) return "";
  const id = ctx.cgroups.cgroup(task.cgroupId, task.pid)?.containerId;
  return id === undefined ? "" : `[${id.slice(0, 12)}]`;
}

function filePath(r: FileRecord, ctx: FormatContext, w: number): string {
  const path = `${r.pathTruncated ? "…" : ""}${escapeText(r.path)}`;
  // a rename: the old name (only its last component is known), ">" and the new path
  const s = r.origin === undefined ? fitTail(path, w) : pair(escapeText(r.origin), ">", path, w);
  return then(s, container(r.task, ctx), w);
}

function sockPeers(r: SockRecord, ctx: FormatContext, messages: readonly AppMessage[], w: number): string {
  let s: string;
  let name: string | undefined;
  if (r.family === AF_UNIX) {
    s = fitTail(r.unixPath === "" ? "-" : escapeText(r.unixPath), w);
  } else {
    const arrow = r.role === SockRole.SOCK_ROLE_SERVER ? " <- " : " -> ";
    s = pair(endpoint(r, r.laddr, r.lport), arrow, endpoint(r, r.raddr, r.rport), w);
    name = ctx.remoteNames.remoteName(r.family, r.raddr, r.tsFirstNs);
  }
  // the endpoints come first; the app summary, the remote's name and the container get what is left
  s = then(s, appSummary(messages), w);
  s = then(s, name === undefined ? "" : `(${escapeText(name)})`, w);
  return then(s, container(r.task, ctx), w);
}

function traffic(d: SockDirection, w: number): string {
  const exact = `${d.bytes}/${d.packets}`;
  if (exact.length <= w) return exact;
  const pk = compact(d.packets, 5);
  return fitHead(`${compact(d.bytes, Math.max(1, w - pk.length - 1))}/${pk}`, w);
}

// ---------------------------------------------------------------- the table

/** Table rows for one terminal width; see the module comment for the columns. */
export class TableFormat {
  private readonly columns: readonly Column[];
  private readonly headerLine: string;

  /** width: terminal columns (process.stdout.columns, or 120 when not a TTY) */
  constructor(width: number) {
    const total = Number.isFinite(width) && width >= 1 ? Math.floor(width) : 120;
    const kept = [...SPECS];
    const fixed = (): number => kept.reduce((sum, c) => sum + c.width + 1, 0);
    // leave out whole columns, least useful first, until the free column keeps MIN_FREE
    for (let rank = 1; fixed() + MIN_FREE > total; rank++) {
      const i = kept.findIndex((c) => c.drop === rank);
      if (i < 0) {
        if (!kept.some((c) => c.drop > rank)) break;
        continue;
      }
      kept.splice(i, 1);
    }
    // on very narrow lines the last fixed columns are clipped too
    const columns: Column[] = [];
    let left = total;
    for (const c of kept) {
      const w = Math.min(c.width, left);
      if (w <= 0) break;
      columns.push({ id: c.id, title: c.title, width: w, right: c.right });
      left -= w + 1;
    }
    if (left > 0) columns.push({ id: COL.FREE, title: FREE_TITLE, width: left, right: false });
    this.columns = columns;
    this.headerLine = this.row((c) => fitHead(c.title, c.width));
  }

  /** The header line (no trailing newline). */
  header(): string {
    return this.headerLine;
  }

  /** One row for a file record (no trailing newline). */
  file(r: FileRecord, ctx: FormatContext): string {
    return this.row((c) => {
      const w = c.width;
      switch (c.id) {
        case COL.EVENTS:
          return fileEvents(r, w);
        case COL.COUNT:
          return compact(r.events, w);
        case COL.TX:
          return r.inodeKnown ? fitTail(`${r.ino}`, w) : "-";
        case COL.RX:
          return r.inodeKnown ? compact(r.size, w) : "-";
        case COL.ATIME:
          return r.inodeKnown ? fitHead(dayTime(r.atimeNs), w) : "-";
        case COL.FREE:
          return filePath(r, ctx, w);
        default:
          return commonCell(c, r, ctx);
      }
    });
  }

  /** One row for a socket record with the app messages captured on it (may be empty). */
  sock(r: SockRecord, ctx: FormatContext, messages: readonly AppMessage[]): string {
    return this.row((c) => {
      const w = c.width;
      switch (c.id) {
        case COL.EVENTS:
          return fitHead(sockKind(r), w);
        case COL.COUNT:
          return compact(r.tx.packets + r.rx.packets, w);
        case COL.TX:
          return traffic(r.tx, w);
        case COL.RX:
          return traffic(r.rx, w);
        case COL.ATIME:
          return "-";
        case COL.FREE:
          return sockPeers(r, ctx, messages, w);
        default:
          return commonCell(c, r, ctx);
      }
    });
  }

  /** The cells (each already at most its column's width) padded, aligned and joined. */
  private row(cell: (c: Column) => string): string {
    const cols = this.columns;
    let out = "";
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i]!;
      const text = cell(c);
      const gap = c.width - textWidth(text);
      if (i > 0) out += " ";
      if (c.right) out += spaces(gap) + text;
      else out += i === cols.length - 1 ? text : text + spaces(gap);
    }
    return out;
  }
}

/** The cells file and socket rows share: time, duration, process, PPID, PID, sequence number. */
function commonCell(c: Column, r: FileRecord | SockRecord, ctx: FormatContext): string {
  const w = c.width;
  switch (c.id) {
    case COL.TIME:
      return fitHead(clock(ctx.nowNs), w);
    case COL.DURATION:
      return duration(r.tsNs - r.tsFirstNs, w);
    case COL.PROCESS:
      return processName(r, w);
    case COL.PPID:
      return fitTail(`${r.task.ppid}`, w);
    case COL.PID:
      return fitTail(`${r.task.pid}`, w);
    case COL.SEQ:
      return fitTail(`${ctx.seq}`, w);
    default:
      return "";
  }
}

/** kflowd's Proc; "-" when unknown (a server socket not yet accepted). */
function processName(r: FileRecord | SockRecord, w: number): string {
  const name = procName(r.task);
  return fitHead(name === "" ? "-" : escapeText(name), w);
}
