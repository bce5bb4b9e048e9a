// SockRemoteName's source: the addresses DNS responses resolved (dnsResolved) and the
// names kept for them (RemoteNames), with TTLs, CNAME chains, TCP framing and bounds.
import { describe, expect, test } from "bun:test";
import { MAX_NAMES, RemoteNames } from "../../../src/app/dns-names.ts";
import { dnsResolved } from "../../../src/app/dns.ts";
import type { AppMessage } from "../../../src/records/app.ts";
import { AppKind } from "../../../src/records/layout.gen.ts";
import { AF_INET } from "../../../src/records/net.ts";

const AF_INET6 = 10;
const enc = new TextEncoder();

function name(n: string): number[] {
  return [...n.split(".").flatMap((l) => [l.length, ...enc.encode(l)]), 0];
}
function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}
function u32(n: number): number[] {
  return [...u16(n >>> 16), ...u16(n & 0xffff)];
}
function rr(owner: number[], type: number, data: number[], ttl: number): number[] {
  return [...owner, ...u16(type), ...u16(1), ...u32(ttl), ...u16(data.length), ...data];
}
/** A response (or with flags, any message) with one question and these answers. */
function response(qname: string, qtype: number, answers: number[][], flags = 0x8180): Uint8Array {
  return new Uint8Array([
    ...u16(0x4242),
    ...u16(flags),
    ...u16(1),
    ...u16(answers.length),
    0,
    0,
    0,
    0,
    ...name(qname),
    ...u16(qtype),
    ...u16(1),
    ...answers.flat(),
  ]);
}
const QNAME = [0xc0, 12];
const FD00_7 = [0xfd, 0, ...Array(13).fill(0), 7];

/** An IPv4 address as the socket records carry it (16 bytes) */
function v4(...a: number[]): Uint8Array {
  const b = new Uint8Array(16);
  b.set(a);
  return b;
}
function v6(...a: number[]): Uint8Array {
  return Uint8Array.from(a);
}

function message(data: Uint8Array, tsNs: bigint, over: Partial<AppMessage> = {}): AppMessage {
  return { sockKey: 1n, pid: 1, tsNs, len: data.length, rx: true, app: AppKind.APP_DNS, data, ...over };
}

const S = 1_000_000_000n;

describe("dnsResolved", () => {
  test("A and AAAA answers: the address, the name asked for, the TTL", () => {
    expect(dnsResolved(response("www.kflowd.test", 1, [rr(QNAME, 1, [10, 1, 2, 3], 300)]), false)).toEqual([
      { addr: Uint8Array.from([10, 1, 2, 3]), name: "www.kflowd.test", ttl: 300 },
    ]);
    expect(dnsResolved(response("www.kflowd.test", 28, [rr(QNAME, 28, FD00_7, 60)]), false)).toEqual([
      { addr: Uint8Array.from(FD00_7), name: "www.kflowd.test", ttl: 60 },
    ]);
  });

  test("a CNAME chain names its head, with the least TTL along it; names compare without case", () => {
    // alias -> mid (TTL 50) -> WWW (TTL 500) -> A (TTL 300)
    const msg = response("alias.kflowd.test", 1, [
      rr(QNAME, 5, name("mid.kflowd.test"), 50),
      rr(name("mid.kflowd.test"), 5, name("WWW.kflowd.test"), 500),
      rr(name("www.kflowd.test"), 1, [10, 9, 8, 7], 300),
      rr(name("www.kflowd.test"), 1, [10, 9, 8, 6], 30),
    ]);
    expect(dnsResolved(msg, false)).toEqual([
      { addr: Uint8Array.from([10, 9, 8, 7]), name: "alias.kflowd.test", ttl: 50 },
      { addr: Uint8Array.from([10, 9, 8, 6]), name: "alias.kflowd.test", ttl: 30 },
    ]);
  });

  test("a CNAME loop ends", () => {
    const msg = response("a.test", 1, [
      rr(name("a.test"), 5, name("b.test"), 9),
      rr(name("b.test"), 5, name("a.test"), 9),
      rr(name("a.test"), 1, [1, 2, 3, 4], 9),
    ]);
    expect(dnsResolved(msg, false)?.[0]?.addr).toEqual(Uint8Array.from([1, 2, 3, 4]));
  });

  test("queries, failures and non-messages resolve nothing; other records are passed over", () => {
    expect(dnsResolved(response("www.kflowd.test", 1, [], 0x0100), false)).toBeUndefined();
    expect(dnsResolved(response("nope.kflowd.test", 1, [rr(QNAME, 1, [1, 2, 3, 4], 9)], 0x8183), false)).toBeUndefined();
    expect(dnsResolved(new Uint8Array([1, 2, 3]), false)).toBeUndefined();
    expect(dnsResolved(response("kflowd.test", 15, [rr(QNAME, 15, [...u16(10), ...name("mail"), 0xc0, 12], 9)]), false)).toEqual([]);
  });

  test("over TCP the length prefix is skipped", () => {
    const msg = response("www.kflowd.test", 1, [rr(QNAME, 1, [10, 1, 2, 3], 300)]);
    expect(dnsResolved(new Uint8Array([...u16(msg.length), ...msg]), true)?.[0]?.name).toBe("www.kflowd.test");
  });

  test("a capture cut inside the answers keeps those read whole", () => {
    const msg = response("many.kflowd.test", 1, [rr(QNAME, 1, [10, 0, 1, 1], 9), rr(QNAME, 1, [10, 0, 1, 2], 9)]);
    expect(dnsResolved(msg.subarray(0, msg.length - 3), false)).toEqual([
      { addr: Uint8Array.from([10, 0, 1, 1]), name: "many.kflowd.test", ttl: 9 },
    ]);
  });
});

describe("RemoteNames", () => {
  const answer = response("www.kflowd.test", 1, [rr(QNAME, 1, [10, 1, 2, 3], 2)]);

  test("a flow that began while the answer lasted gets the name; one that began after it expired does not", () => {
    const names = new RemoteNames();
    names.observe(message(answer, 100n * S));
    expect(names.remoteName(AF_INET, v4(10, 1, 2, 3), 100n * S)).toBe("www.kflowd.test");
    expect(names.remoteName(AF_INET, v4(10, 1, 2, 3), 102n * S)).toBe("www.kflowd.test");
    expect(names.remoteName(AF_INET, v4(10, 1, 2, 3), 102n * S + 1n)).toBeUndefined();
    expect(names.remoteName(AF_INET, v4(10, 1, 2, 4), 100n * S)).toBeUndefined();
  });

  test("a TTL of 0 still names the connection that follows within a second", () => {
    const names = new RemoteNames();
    names.observe(message(response("zero.test", 1, [rr(QNAME, 1, [10, 0, 0, 1], 0)]), 5n * S));
    expect(names.remoteName(AF_INET, v4(10, 0, 0, 1), 5n * S + 500_000_000n)).toBe("zero.test");
    expect(names.remoteName(AF_INET, v4(10, 0, 0, 1), 6n * S + 1n)).toBeUndefined();
  });

  test("IPv6, and an IPv4 peer of an IPv6 socket (::ffff:a.b.c.d)", () => {
    const names = new RemoteNames();
    names.observe(message(response("www.kflowd.test", 28, [rr(QNAME, 28, FD00_7, 60)]), S));
    names.observe(message(answer, S));
    expect(names.remoteName(AF_INET6, v6(...FD00_7), S)).toBe("www.kflowd.test");
    expect(names.remoteName(AF_INET6, v6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3), S)).toBe("www.kflowd.test");
  });

  test("the newest answer for an address wins", () => {
    const names = new RemoteNames();
    names.observe(message(answer, S));
    names.observe(message(response("other.test", 1, [rr(QNAME, 1, [10, 1, 2, 3], 60)]), 2n * S));
    expect(names.remoteName(AF_INET, v4(10, 1, 2, 3), 2n * S)).toBe("other.test");
  });

  test("TCP: a read with the length prefix, and a body read after the prefix alone", () => {
    const names = new RemoteNames();
    const framed = new Uint8Array([...u16(answer.length), ...answer]);
    names.observe(message(framed, S));
    expect(names.remoteName(AF_INET, v4(10, 1, 2, 3), S)).toBe("www.kflowd.test");
    const later = new RemoteNames();
    later.observe(message(framed.subarray(0, 2), S));
    later.observe(message(answer, S));
    expect(later.remoteName(AF_INET, v4(10, 1, 2, 3), S)).toBe("www.kflowd.test");
  });

  test("only DNS messages are read", () => {
    const names = new RemoteNames();
    names.observe(message(answer, S, { app: AppKind.APP_HTTP }));
    expect(names.size).toBe(0);
  });

  test("bounded: the oldest addresses go first", () => {
    const names = new RemoteNames(3);
    for (let i = 1; i <= 5; i++) names.observe(message(response(`h${i}.test`, 1, [rr(QNAME, 1, [10, 0, 0, i], 60)]), S));
    expect(names.size).toBe(3);
    expect(names.remoteName(AF_INET, v4(10, 0, 0, 2), S)).toBeUndefined();
    expect(names.remoteName(AF_INET, v4(10, 0, 0, 5), S)).toBe("h5.test");
    expect(MAX_NAMES).toBeGreaterThan(1000);
  });
});
