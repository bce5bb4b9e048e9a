/**
 * A growable byte buffer that records are written into as UTF-8, one after the other,
 * so that a drain's output reaches the writer as one chunk instead of one string per
 * record. The JSON writers produce exactly the bytes of the string formatters
 * (`${n}`, JSON.stringify, seconds9, timestamp) without making those strings.
 */
import { secondPrefix, seconds9 } from "./values.ts";

const encoder = new TextEncoder();
/** Buffer's native copy works on any Uint8Array: ~30 ns for 1 KB, where set(subarray()) takes ~100-150 */
const nativeCopy = Buffer.prototype.copy;

/** Copies src[from, to) into dst at `at`, without making a view of either. */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  nativeCopy.call(src, dst, at, from, to);
}
/** scratch for the 32-bit halves of u64 bigints (reading them back allocates nothing) */
const SPLIT = new DataView(new ArrayBuffer(16));
/** divide1e9()'s result, reused */
const QR: [number, number] = [0, 0];

/** [floor(n / 1e9), n mod 1e9] of an integer 0 <= n < 2^53, exactly (QR, overwritten by the next call). */
function divide1e9(n: number): [number, number] {
  let q = Math.floor(n / 1e9);
  let r = n - q * 1e9;
  // the division may round up across an integer; q * 1e9 and the difference are exact
  if (r < 0) {
    q--;
    r += 1e9;
  } else if (r >= 1e9) {
    q++;
    r -= 1e9;
  }
  QR[0] = q;
  QR[1] = r;
  return QR;
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;
const HEX = "0123456789abcdef";
/** bytes of the short escapes JSON.stringify uses, by character code (0: none) */
const SHORT_ESCAPE = new Uint8Array(93);
SHORT_ESCAPE[8] = 98; // \b
SHORT_ESCAPE[9] = 116; // \t
SHORT_ESCAPE[10] = 110; // \n
SHORT_ESCAPE[12] = 102; // \f
SHORT_ESCAPE[13] = 114; // \r
SHORT_ESCAPE[34] = 34; // \"
SHORT_ESCAPE[92] = 92; // \\

/** "000" to "999" as ASCII, three bytes each */
const THREE_DIGITS = new Uint8Array(3000);
for (let i = 0; i < 1000; i++) {
  THREE_DIGITS[3 * i] = 48 + Math.floor(i / 100);
  THREE_DIGITS[3 * i + 1] = 48 + (Math.floor(i / 10) % 10);
  THREE_DIGITS[3 * i + 2] = 48 + (i % 10);
}

/** raw(): runs longer than this are copied with set() */
const RAW_COPY_MIN = 32;
/** how many timestamp seconds keep their formatted prefix */
const PREFIXES = 4;

export class JsonBytes {
  buf: Uint8Array;
  /** bytes used; what follows is free */
  pos = 0;
  /** seconds (since the epoch) whose "Thu, Apr 04 2024 15:34:35" prefix is kept, round robin */
  private readonly prefixSecond: number[] = new Array<number>(PREFIXES).fill(-1);
  private readonly prefixBytes: Uint8Array[] = new Array<Uint8Array>(PREFIXES).fill(new Uint8Array(0));
  private prefixNext = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** Room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Any text as UTF-8 (lone surrogates become U+FFFD, as with TextEncoder). */
  text(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    this.ensure(s.length * 3);
    this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** Text known to be ASCII (keys, punctuation, names of fixed tables), as is. */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Bytes src[from, to) of another buffer, copied at once (a record formatted elsewhere). */
  copy(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    copyBytes(src, from, to, this.buf, this.pos);
    this.pos += n;
  }

  /** Bytes made beforehand (e.g. with encode()). */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    // long runs (the host's Info keys, a cgroup's keys) as one copy; short ones by hand,
    // below the call's fixed cost
    if (n > RAW_COPY_MIN) {
      b.set(bytes, p);
      this.pos = p + n;
      return;
    }
    for (let i = 0; i < n; i++) b[p++] = bytes[i]!;
    this.pos = p;
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** A number as `${n}` writes it; integers digit by digit. */
  num(n: number): void {
    if (!Number.isSafeInteger(n)) {
      // fractions, NaN, and integers past 2^53 (their shortest round-trip digits)
      this.ascii(String(n));
      return;
    }
    this.ensure(17);
    if (n < 0) {
      this.buf[this.pos++] = 45; // -
      n = -n;
    }
    this.digits(n);
  }

  /** A bigint as `${n}` writes it. */
  big(n: bigint): void {
    if (n >= 0n && n <= MAX_SAFE) {
      this.ensure(16);
      this.digits(Number(n));
    } else {
      this.ascii(n.toString());
    }
  }

  /** Nanoseconds as seconds with exactly 9 decimals, the literal 0 when zero (seconds9). */
  seconds9(ns: bigint): void {
    if (ns >= MIN_SAFE && ns <= MAX_SAFE) this.seconds9Of(Number(ns));
    else this.ascii(seconds9(ns));
  }

  /**
   * seconds9(a - b) of two u64 times (ns), without making the difference a bigint: the
   * 32-bit halves of each are read back through a scratch DataView, which allocates nothing.
   */
  seconds9Between(a: bigint, b: bigint): void {
    SPLIT.setBigUint64(0, a, true);
    SPLIT.setBigUint64(8, b, true);
    const hi = SPLIT.getUint32(4, true) - SPLIT.getUint32(12, true);
    // |difference| < 2^52: exact as a double
    if (hi > -0x100000 && hi < 0x100000) this.seconds9Of(hi * 0x1_0000_0000 + (SPLIT.getUint32(0, true) - SPLIT.getUint32(8, true)));
    else this.seconds9(a - b);
  }

  /** seconds9() of nanoseconds that are a safe integer. */
  seconds9Of(ns: number): void {
    this.ensure(28);
    if (ns === 0) {
      this.buf[this.pos++] = 48;
      return;
    }
    if (ns < 0) {
      this.buf[this.pos++] = 45; // -
      ns = -ns;
    }
    let s = Math.floor(ns / 1e9);
    let frac = ns - s * 1e9;
    // the division may round across a second boundary; s * 1e9 and the difference are exact
    if (frac < 0) {
      s--;
      frac += 1e9;
    } else if (frac >= 1e9) {
      s++;
      frac -= 1e9;
    }
    this.digits(s);
    this.buf[this.pos++] = 46; // .
    this.nine(frac);
  }

  /** ns since the epoch as "Thu, Apr 04 2024 15:34:35.643031330 UTC" (timestamp()), unquoted. */
  timestamp(ns: bigint): void {
    // seconds and the ns within the second, exactly, without bigint arithmetic
    SPLIT.setBigUint64(0, ns, true);
    const hi = SPLIT.getUint32(4, true);
    const lo = SPLIT.getUint32(0, true);
    // hi * 2^32 + lo = (qh * 1e9 + rh) * 2^32 + lo; rh * 2^32 + lo divided by 1e9 in 16-bit steps,
    // each step's dividend below 2^47 (exact)
    const qh = Math.floor(hi / 1e9);
    const rh = hi - qh * 1e9;
    const [q1, r1] = divide1e9(rh * 0x10000 + (lo >>> 16));
    const [q0, r0] = divide1e9(r1 * 0x10000 + (lo & 0xffff));
    const sec = qh * 0x1_0000_0000 + q1 * 0x10000 + q0;
    let prefix: Uint8Array | undefined;
    for (let i = 0; i < PREFIXES; i++) {
      if (this.prefixSecond[i] === sec) {
        prefix = this.prefixBytes[i]!;
        break;
      }
    }
    if (prefix === undefined) {
      prefix = encoder.encode(secondPrefix(BigInt(sec)));
      this.prefixSecond[this.prefixNext] = sec;
      this.prefixBytes[this.prefixNext] = prefix;
      this.prefixNext = (this.prefixNext + 1) % PREFIXES;
    }
    this.raw(prefix);
    this.ensure(14);
    this.buf[this.pos++] = 46; // .
    this.nine(r0);
    this.ascii(" UTC");
  }

  /** A JSON string literal, escaped exactly as JSON.stringify escapes it, in UTF-8. */
  str(s: string): void {
    this.strRange(s, 0, s.length);
  }

  /**
   * str() of s.slice(from, to), without making that string. (No default parameters
   * here: JSC optimizes this loop far less with them, ~5x slower.)
   */
  strRange(s: string, from: number, to: number): void {
    const n = to;
    // at most 6 bytes per UTF-16 unit (\u001f, or a lone surrogate as \udxxx)
    this.ensure(6 * (to - from) + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 34;
    for (let i = from; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80 && c !== 34 && c !== 92) {
        b[p++] = c;
        continue;
      }
      if (c < 0x80) {
        b[p++] = 92; // backslash
        const e = SHORT_ESCAPE[c] ?? 0;
        if (e !== 0) {
          b[p++] = e;
        } else {
          b[p++] = 117; // u00XX
          b[p++] = 48;
          b[p++] = 48;
          b[p++] = HEX.charCodeAt(c >> 4);
          b[p++] = HEX.charCodeAt(c & 15);
        }
      } else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      } else {
        const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          b[p++] = 0xf0 | (cp >> 18);
          b[p++] = 0x80 | ((cp >> 12) & 0x3f);
          b[p++] = 0x80 | ((cp >> 6) & 0x3f);
          b[p++] = 0x80 | (cp & 0x3f);
          i++;
        } else {
          // a lone surrogate: JSON.stringify writes it as an escape
          b[p++] = 92;
          b[p++] = 117;
          b[p++] = HEX.charCodeAt(c >> 12);
          b[p++] = HEX.charCodeAt((c >> 8) & 15);
          b[p++] = HEX.charCodeAt((c >> 4) & 15);
          b[p++] = HEX.charCodeAt(c & 15);
        }
      }
    }
    b[p++] = 34;
    this.pos = p;
  }

  /** The bytes written, as a view of the buffer (valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Starts over with a buffer of `bytes` (the old one may have grown large). */
  reset(bytes = this.buf.length): void {
    if (bytes !== this.buf.length) this.buf = new Uint8Array(bytes);
    this.pos = 0;
  }

  /** The decimal digits of a safe integer n >= 0; room was ensured. */
  private digits(n: number): void {
    const b = this.buf;
    if (n < 1000) {
      // most numbers: counts, ports, small ids
      const d = 3 * n;
      if (n >= 100) b[this.pos++] = THREE_DIGITS[d]!;
      if (n >= 10) b[this.pos++] = THREE_DIGITS[d + 1]!;
      b[this.pos++] = THREE_DIGITS[d + 2]!;
      return;
    }
    // Larger ones three digits at a time, in straight-line code as nine() (a division
    // loop switching between int32 and double made JSC's optimized code throw
    // "TypeError: No default value" on arm64 now and then; String(n) made a string each).
    if (n < 1e9) {
      this.below1e9(n);
      return;
    }
    let top = Math.floor(n / 1e9);
    let low = n - top * 1e9;
    if (low < 0) {
      top--;
      low += 1e9;
    } else if (low >= 1e9) {
      top++;
      low -= 1e9;
    }
    // top < 2^53 / 1e9 < 1e7: one of the two cases above
    this.digits(top);
    this.nine(low);
  }

  /** 1000 <= n < 1e9 without leading zeros; room was ensured. */
  private below1e9(n: number): void {
    const b = this.buf;
    let p = this.pos;
    let lead: number;
    if (n < 1_000_000) {
      lead = (n / 1000) | 0;
    } else {
      lead = (n / 1_000_000) | 0;
    }
    const d = 3 * lead;
    if (lead >= 100) b[p++] = THREE_DIGITS[d]!;
    if (lead >= 10) b[p++] = THREE_DIGITS[d + 1]!;
    b[p++] = THREE_DIGITS[d + 2]!;
    let rest: number;
    if (n >= 1_000_000) {
      rest = n - lead * 1_000_000;
      const mid = 3 * ((rest / 1000) | 0);
      b[p++] = THREE_DIGITS[mid]!;
      b[p++] = THREE_DIGITS[mid + 1]!;
      b[p++] = THREE_DIGITS[mid + 2]!;
      rest = rest % 1000;
    } else {
      rest = n - lead * 1000;
    }
    const lo = 3 * rest;
    b[p++] = THREE_DIGITS[lo]!;
    b[p++] = THREE_DIGITS[lo + 1]!;
    b[p++] = THREE_DIGITS[lo + 2]!;
    this.pos = p;
  }

  /** 0 <= n < 1e9 as exactly nine digits; room was ensured. */
  private nine(n: number): void {
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 9;
    const hi = (n / 1_000_000) | 0;
    const rest = n - hi * 1_000_000;
    const mid = (rest / 1000) | 0;
    const lo = 3 * (rest - mid * 1000);
    const h = 3 * hi;
    const m = 3 * mid;
    b[p] = THREE_DIGITS[h]!;
    b[p + 1] = THREE_DIGITS[h + 1]!;
    b[p + 2] = THREE_DIGITS[h + 2]!;
    b[p + 3] = THREE_DIGITS[m]!;
    b[p + 4] = THREE_DIGITS[m + 1]!;
    b[p + 5] = THREE_DIGITS[m + 2]!;
    b[p + 6] = THREE_DIGITS[lo]!;
    b[p + 7] = THREE_DIGITS[lo + 1]!;
    b[p + 8] = THREE_DIGITS[lo + 2]!;
  }
}

/** Text as UTF-8 bytes, for raw(). */
export function encode(s: string): Uint8Array {
  return encoder.encode(s);
}

const decoder = new TextDecoder();
/** where records made as text (pretty JSON, collectors) are formatted first */
const textScratch = new JsonBytes();

/** An empty buffer for one record that is wanted as text: format into it, then text(). */
export function textStart(): JsonBytes {
  textScratch.reset();
  return textScratch;
}

/** What was formatted into out, as text. */
export function text(out: JsonBytes): string {
  return decoder.decode(out.bytes());
}
