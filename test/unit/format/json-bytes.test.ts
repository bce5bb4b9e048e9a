import { describe, expect, test } from "bun:test";
import type { HostInfo } from "../../../src/format/common.ts";
import type { Digests } from "../../../src/enrich/checksums.ts";
import { type FormatContext, fileBytes } from "../../../src/format/file-json.ts";
import { JsonBytes } from "../../../src/format/json-bytes.ts";
import { sockBytes } from "../../../src/format/sock-json.ts";
import { fileJson, sockJson } from "./json-oracle.ts";
import { seconds9, timestamp } from "../../../src/format/values.ts";
import type { AppMessage } from "../../../src/records/app.ts";
import type { FileRecord } from "../../../src/records/file.ts";
import { AppKind, FsEvent, SockRole } from "../../../src/records/layout.gen.ts";
import { AF_INET, AF_UNIX, IPPROTO_TCP } from "../../../src/records/net.ts";
import type { SockDirection, SockRecord } from "../../../src/records/sock.ts";
import type { TaskIdentity } from "../../../src/records/task.ts";
import { prng as rng } from "../../helpers/prng.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** What the string formatters' text becomes on stdout: its UTF-8 bytes. */
function utf8(s: string): string {
  return decoder.decode(encoder.encode(s));
}

/** Where two texts differ first, with some context (a short failure message for long records). */
function firstDifference(a: string, b: string): string | undefined {
  if (a === b) return undefined;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}: ${JSON.stringify(a.slice(Math.max(0, i - 60), i + 60))} vs ${JSON.stringify(b.slice(Math.max(0, i - 60), i + 60))}`;
}

/** Runs one writer on a fresh buffer, returns what it wrote as text. */
function written(f: (out: JsonBytes) => void, initialBytes = 16): string {
  const out = new JsonBytes(initialBytes);
  f(out);
  return decoder.decode(out.bytes());
}

const rand = rng(20240404);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const u64 = (): bigint => (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32));

/** Every byte 1..255 once, then decoded as the record decoders do (invalid UTF-8 -> U+FFFD). */
const ALL_BYTES = decoder.decode(Uint8Array.from({ length: 255 }, (_, i) => i + 1));
/** Every UTF-16 unit 1..255, as a name taken from a text file might hold them. */
const ALL_UNITS = String.fromCharCode(...Array.from({ length: 255 }, (_, i) => i + 1));

/** A hostile name: random bytes as UTF-8, random UTF-16 units (lone surrogates too), or plain. */
function name(): string {
  switch (int(5)) {
    case 0:
      return decoder.decode(Uint8Array.from({ length: int(40) }, () => 1 + int(255)));
    case 1:
      return String.fromCharCode(
        ...Array.from({ length: int(20) }, () => pick([int(0x80), int(0x800), int(0x10000), 0xd800 + int(0x800)])),
      );
    case 2:
      return pick([ALL_BYTES, ALL_UNITS, "", "\ud83d\ude00", "\ud83d", "x\ude00y", 'a"b\\c\u007f\u2028']);
    default:
      return pick(["bash", "python3", "kfgen", "systemd-journald", "f123.txt", "na\u00efve \u6587\u4ef6"]);
  }
}

function path(): string {
  const parts = Array.from({ length: int(5) }, name);
  return pick([`/${parts.join("/")}`, parts.join("/"), "/", "", "name-without-slash", `/a//b/${name()}/`]);
}

/** Numbers as the decoders make them: small, u32, u64 as doubles (past 2^53 too). */
function num(): number {
  return pick([
    0,
    1,
    int(100),
    int(2 ** 32),
    int(2 ** 32) * 2 ** 21 + int(2 ** 21),
    2 ** 53 - 1,
    2 ** 53,
    2 ** 64 - 2048,
    int(2 ** 32) * 2 ** 32,
  ]);
}

/** Nanosecond values: zero, small, near second boundaries, past 2^53, the u64 extremes. */
function ns(): bigint {
  return pick([
    0n,
    1n,
    BigInt(int(1e9)),
    BigInt(int(1e6)) * 1_000_000_000n - 1n,
    BigInt(int(1e6)) * 1_000_000_000n,
    1712244875643031330n + BigInt(int(1e12)),
    9007199254740991n,
    9007199254740992n,
    2n ** 64n - 1n,
    u64(),
  ]);
}

const host = (token: string | undefined): HostInfo => ({
  hostName: name(),
  hostIp: "10.1.2.3",
  hostToken: token,
  system: "Linux",
  kernel: "6.18.0",
  version: "kflowd-v0.1.0",
});

/** A lookup that names each key at random, the same name every time it is asked. */
function lookup<K>(): (key: K) => string {
  const names = new Map<K, string>();
  return (key) => {
    let n = names.get(key);
    if (n === undefined) names.set(key, (n = name()));
    return n;
  };
}

/** 64 hex digits */
function hex64(): string {
  return Array.from({ length: 64 }, () => "0123456789abcdef"[int(16)]).join("");
}

/**
 * Cgroups named at random, the same answer every time an id is asked: hostile paths,
 * with and without a container, and ids that cannot be named.
 */
function cgroupLookup(): FormatContext["cgroups"] {
  const known = new Map<number, { path: string; containerId: string | undefined } | undefined>();
  return {
    cgroup: (id) => {
      if (!known.has(id)) {
        known.set(
          id,
          rand() < 0.2
            ? undefined
            : { path: pick(["/", `/system.slice/${name()}`, path()]), containerId: rand() < 0.5 ? hex64() : undefined },
        );
      }
      return known.get(id);
    },
  };
}

/** Remote names at random for some addresses and times, hostile ones too. */
function remoteNameLookup(): FormatContext["remoteNames"] {
  const known = new Map<string, string | undefined>();
  return {
    remoteName: (family, addr, atNs) => {
      const key = `${family}/${addr.join(".")}/${atNs}`;
      if (!known.has(key)) known.set(key, rand() < 0.5 ? undefined : name());
      return known.get(key);
    },
  };
}

function context(): FormatContext {
  const withVersions = rand() < 0.3;
  return {
    host: host(rand() < 0.5 ? undefined : name()),
    names: { user: lookup<number>(), group: lookup<number>() },
    devices: { device: lookup<number>() },
    interfaces: { interface: lookup<number>() },
    versions: withVersions ? { fileVersion: lookup<string>(), exeVersion: lookup<string>() } : undefined,
    cgroups: cgroupLookup(),
    remoteNames: remoteNameLookup(),
    seq: pick([1, int(1e6), 2 ** 40]),
    nowNs: pick([1764172800123456789n, 1764172800999999999n, u64(), 0n]),
    uptimeNs: ns(),
  };
}

function task(): TaskIdentity {
  const comm = pick(["kfgen", "bash", name()]);
  return {
    pid: int(2 ** 32),
    tid: int(2 ** 32),
    ppid: int(2 ** 22),
    uid: pick([0, 1000, int(2 ** 32)]),
    gid: pick([0, 4, int(2 ** 32)]),
    startNs: ns(),
    comm,
    exe: pick(["", comm, `${comm}.11`, name()]),
    parentExe: name(),
    cgroupId: pick([0, 1, int(2 ** 32), int(2 ** 32) + 2 ** 32 * int(4)]),
  };
}

function fileRecord(): FileRecord {
  return {
    task: task(),
    tsFirstNs: ns(),
    tsNs: ns(),
    ino: pick([0n, 1n, 9007199254740993n, u64()]),
    dev: int(2 ** 32),
    mode: pick([0, 0o100644, 0o100755, 0o120777, 0o104755, int(2 ** 16)]),
    nlink: pick([0, 1, 2, int(2 ** 32)]),
    uid: int(2 ** 32),
    gid: int(2 ** 32),
    events: num(),
    eventCounts: Array.from({ length: FsEvent.FS_EVENT_COUNT }, () => (rand() < 0.7 ? 0 : pick([1, int(2 ** 32)]))),
    size: num(),
    sizeFirst: num(),
    atimeNs: ns(),
    mtimeNs: ns(),
    ctimeNs: ns(),
    mtimeFirstNs: ns(),
    path: path(),
    pathTruncated: rand() < 0.1,
    origin: rand() < 0.2 ? name() : undefined,
    inodeKnown: rand() < 0.8,
    deferred: rand() < 0.2,
  };
}

function direction(): SockDirection {
  if (rand() < 0.2) {
    return { packets: 0, dataPackets: 0, bytes: 0, tsFirstNs: 0n, tsLastNs: 0n, ttlSum: 0, ttlPackets: 0, frags: 0, ifindex: 0, flags: [] };
  }
  const flags: [number, number][] = Array.from({ length: int(6) }, () => [int(64), int(2 ** 32)]);
  return {
    packets: 1 + int(1e6),
    dataPackets: int(1e6),
    bytes: num(),
    tsFirstNs: ns(),
    tsLastNs: ns(),
    ttlSum: int(1e9),
    ttlPackets: int(1e6),
    frags: int(2 ** 32),
    ifindex: int(8),
    flags,
  };
}

function bytes16(v4: boolean): Uint8Array {
  const b = Uint8Array.from({ length: 16 }, () => (rand() < 0.5 ? 0 : int(256)));
  if (v4 || rand() < 0.2) {
    b.fill(0, 0, 10);
    b[10] = 0xff;
    b[11] = 0xff;
  }
  return b;
}

function sockRecord(): SockRecord {
  const family = pick([AF_INET, AF_UNIX, 10]);
  return {
    key: u64(),
    task: task(),
    tsFirstNs: ns(),
    tsNs: ns(),
    family,
    proto: pick([IPPROTO_TCP, 17]),
    type: 1,
    role: pick([SockRole.SOCK_ROLE_CLIENT, SockRole.SOCK_ROLE_SERVER]),
    state: int(16),
    lport: int(65536),
    rport: int(65536),
    laddr: family === AF_INET ? Uint8Array.from({ length: 16 }, () => int(256)) : bytes16(false),
    raddr: family === AF_INET ? Uint8Array.from({ length: 16 }, () => int(256)) : bytes16(false),
    tx: direction(),
    rx: direction(),
    srttUs: int(2 ** 32),
    bytesAcked: num(),
    bytesRetrans: num(),
    retrans: int(2 ** 32),
    dsackDups: int(2 ** 32),
    rtoMs: rand() < 0.2 ? undefined : int(2 ** 32),
    reorder: int(2 ** 32),
    drops: int(2 ** 32),
    queued: int(2 ** 32),
    unixPath: rand() < 0.3 ? "" : name(),
    closed: rand() < 0.5,
    deferred: rand() < 0.2,
  };
}

function messages(r: SockRecord): AppMessage[] | undefined {
  if (rand() < 0.7) return undefined;
  return Array.from({ length: 1 + int(3) }, () => ({
    sockKey: r.key,
    pid: r.task.pid,
    tsNs: r.tsFirstNs + BigInt(int(1e9)),
    len: 20,
    rx: rand() < 0.5,
    app: pick([AppKind.APP_HTTP, AppKind.APP_SYSLOG]),
    data: encoder.encode(pick(["GET /x HTTP/1.1\r\nHost: a\r\n\r\n", `<13>Jan  1 00:00:00 h ${name()}`, name()])),
  }));
}

describe("byte writers match the string formats", () => {
  test("str: JSON.stringify's escapes, every byte and unit 1..255, surrogates alone and paired", () => {
    const cases = [ALL_BYTES, ALL_UNITS, "", "\ud83d\ude00", "\ud83d", "\ude00", "\ude00\ud83d", "a\ud83d", "\u2028\u2029\ufeff\uffff"];
    for (let i = 0; i < 2000; i++) cases.push(name());
    for (const s of cases) {
      expect(written((o) => o.str(s))).toBe(utf8(JSON.stringify(s)));
      const from = int(s.length + 1);
      const to = from + int(s.length - from + 1);
      expect(written((o) => o.strRange(s, from, to))).toBe(utf8(JSON.stringify(s.slice(from, to))));
    }
  });

  test("num and big: `${n}`, past 2^53 and negative too", () => {
    const nums = [
      0,
      -0,
      1,
      -1,
      9,
      10,
      99,
      100,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 53 + 2,
      2 ** 64,
      2 ** 64 - 2048,
      -(2 ** 53),
      1.5,
      1e21,
    ];
    for (let i = 0; i < 2000; i++) nums.push(num(), -num(), int(10 ** int(16)));
    for (const n of nums) expect(written((o) => o.num(n))).toBe(`${n}`);
    const bigs = [0n, 1n, 9007199254740991n, 9007199254740992n, 2n ** 64n - 1n, -1n];
    for (let i = 0; i < 2000; i++) bigs.push(u64(), BigInt(int(2 ** 32)));
    for (const n of bigs) expect(written((o) => o.big(n))).toBe(`${n}`);
  });

  test("seconds9: zero, signs, second boundaries, past 2^53", () => {
    const values = [
      0n,
      1n,
      -1n,
      999_999_999n,
      1_000_000_000n,
      1_000_000_001n,
      -1_000_000_000n,
      9007199254740991n,
      -9007199254740991n,
      9007199254740992n,
      2n ** 64n - 1n,
      -(2n ** 63n),
    ];
    for (let k = 1n; k < 9_007_199n; k = k * 3n + 1n) values.push(k * 1_000_000_000n - 1n, k * 1_000_000_000n, k * 1_000_000_000n + 1n);
    for (let i = 0; i < 5000; i++) values.push(ns(), -ns(), BigInt(int(2 ** 53)));
    for (const v of values) expect(written((o) => o.seconds9(v))).toBe(seconds9(v));
    for (let i = 0; i < 2000; i++) {
      const n = int(2 ** 32) * 1000;
      expect(written((o) => o.seconds9Of(n))).toBe(seconds9(BigInt(n)));
    }
  });

  test("seconds9Between: the difference of two u64 times, near and far apart, either order", () => {
    const pairs: [bigint, bigint][] = [
      [0n, 0n],
      [1n, 0n],
      [0n, 1n],
      [2n ** 32n, 2n ** 32n - 1n],
      [2n ** 64n - 1n, 0n],
      [0n, 2n ** 64n - 1n],
      [2n ** 52n + 2n ** 32n, 2n ** 32n],
    ];
    for (let i = 0; i < 5000; i++) {
      const a = u64();
      const d = BigInt(int(2 ** int(60)));
      pairs.push([a, a >= d ? a - d : a + d], [a, u64()], [BigInt(int(2 ** 53)), BigInt(int(2 ** 53))]);
    }
    for (const [a, b] of pairs) {
      expect(written((o) => o.seconds9Between(a, b))).toBe(seconds9(a - b));
      expect(written((o) => o.seconds9Between(b, a))).toBe(seconds9(b - a));
    }
  });

  test("timestamp: many seconds in turn (its prefix cache), the epoch, the largest u64", () => {
    const out = new JsonBytes(16);
    let want = "";
    const values = [0n, 999_999_999n, 2n ** 64n - 1n];
    for (let i = 0; i < 3000; i++) values.push(1764172800000000000n + BigInt(int(8)) * 1_000_000_000n + BigInt(int(1e9)), ns());
    for (const v of values) {
      out.timestamp(v);
      out.byte(10);
      want += `${timestamp(v)}\n`;
    }
    expect(decoder.decode(out.bytes())).toBe(want);
  });
});

describe("records as bytes match the reference string formatters (json-oracle.ts)", () => {
  test("file records: hostile names, optional keys, zero and 64-bit values", () => {
    for (let i = 0; i < 3000; i++) {
      const ctx = context();
      const r = fileRecord();
      const digests: Digests | undefined = rand() < 0.3 ? { md5: pick(["", "0123abcd"]), sha256: name() } : undefined;
      const text = written((o) => fileBytes(o, r, ctx, digests));
      expect(firstDifference(text, utf8(fileJson(r, ctx, digests)))).toBeUndefined();
      expect(() => JSON.parse(text)).not.toThrow();
    }
  });

  test("socket records: TCP, UDP, UNIX, IPv4 and IPv6, both roles, application messages", () => {
    for (let i = 0; i < 3000; i++) {
      const ctx = context();
      const r = sockRecord();
      const m = messages(r);
      const text = written((o) => sockBytes(o, r, ctx, m));
      expect(firstDifference(text, utf8(sockJson(r, ctx, m)))).toBeUndefined();
      expect(() => JSON.parse(text)).not.toThrow();
    }
  });

  test("many records in one buffer, one after the other, as stdout gets them", () => {
    const out = new JsonBytes(64);
    let want = "";
    for (let i = 0; i < 500; i++) {
      const ctx = context();
      if (rand() < 0.5) {
        const r = fileRecord();
        fileBytes(out, r, ctx);
        want += `${fileJson(r, ctx)}\n`;
      } else {
        const r = sockRecord();
        sockBytes(out, r, ctx);
        want += `${sockJson(r, ctx)}\n`;
      }
      out.byte(10);
    }
    expect(firstDifference(decoder.decode(out.bytes()), utf8(want))).toBeUndefined();
  });
});
