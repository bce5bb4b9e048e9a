/** Value formats of kflowd's JSON: seconds with 9 decimals, timestamps, permissions. */
import { RecKernelValues } from "../records/layout.gen.ts";

const NS_PER_S = 1_000_000_000n;
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Nanoseconds as seconds with exactly 9 decimals; the literal 0 when zero. */
export function seconds9(ns: bigint): string {
  if (ns === 0n) return "0";
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const frac = (abs % NS_PER_S).toString().padStart(9, "0");
  return `${neg ? "-" : ""}${abs / NS_PER_S}.${frac}`;
}

let cachedSecond = -1n;
let cachedPrefix = "";

/** A second since the epoch as "Thu, Apr 04 2024 15:34:35". */
export function secondPrefix(sec: bigint): string {
  const d = new Date(Number(sec) * 1000);
  return (
    `${DAYS[d.getUTCDay()]}, ${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCDate())} ${d.getUTCFullYear()} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
  );
}

/** ns since the epoch as "Thu, Apr 04 2024 15:34:35.643031330 UTC". */
export function timestamp(ns: bigint): string {
  const sec = ns / NS_PER_S;
  if (sec !== cachedSecond) {
    cachedPrefix = secondPrefix(sec);
    cachedSecond = sec;
  }
  return `${cachedPrefix}.${(ns % NS_PER_S).toString().padStart(9, "0")} UTC`;
}

const { REC_S_IFMT: S_IFMT, REC_S_IFLNK: S_IFLNK } = RecKernelValues;

function permissionsOf(bits: number, link: boolean): string {
  let s = link ? "l" : "-";
  const rwx = "rwx";
  for (let i = 8; i >= 0; i--) s += bits & (1 << i) ? rwx[(8 - i) % 3] : "-";
  return `${bits.toString(8).padStart(4, "0")}/${s}`;
}

/** permissions() made once per permission bits and symlink or not (index: bits | link << 12) */
const PERMISSIONS: (string | undefined)[] = new Array(2 << 12).fill(undefined);

/** "0755/-rwxr-xr-x": octal of the low 12 bits, then ls-style letters (l for symlinks). */
export function permissions(mode: number): string {
  const bits = mode & 0o7777;
  const link = (mode & S_IFMT) === S_IFLNK;
  const i = link ? bits | (1 << 12) : bits;
  return (PERMISSIONS[i] ??= permissionsOf(bits, link));
}

/** kflowd's FileMode: symlink, hardlink (more than one link) or regular. */
export function fileMode(mode: number, nlink: number): string {
  if ((mode & S_IFMT) === S_IFLNK) return "symlink";
  return nlink > 1 ? "hardlink" : "regular";
}
