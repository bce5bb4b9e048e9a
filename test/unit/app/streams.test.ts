// Messages cut from streams and captures: DNS over TCP joined again from its pieces,
// pipelined HTTP, syslog's TCP framing, truncated DNS messages, and the App* JSON of a
// record that holds them.
import { describe, expect, test } from "bun:test";
import { decodeDns, dnsTcpMessages } from "../../../src/app/dns.ts";
import { decodeHttp, splitHttp } from "../../../src/app/http.ts";
import { decodeSyslog, splitSyslog } from "../../../src/app/syslog.ts";
import { appJson } from "../../../src/format/app-json.ts";
import type { AppMessage } from "../../../src/records/app.ts";
import { AppKind, SockRole } from "../../../src/records/layout.gen.ts";
import { IPPROTO_TCP } from "../../../src/records/net.ts";
import type { SockRecord } from "../../../src/records/sock.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function name(n: string): number[] {
  return [...n.split(".").flatMap((l) => [l.length, ...enc.encode(l)]), 0];
}
function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}
function query(id: number, qname: string, type = 1): Uint8Array {
  return new Uint8Array([...u16(id), ...u16(0x0100), ...u16(1), ...u16(0), ...u16(0), ...u16(0), ...name(qname), ...u16(type), ...u16(1)]);
}
/** a response with n A records for qname, each 10.0.0.i, TTL 60 */
function answers(id: number, qname: string, n: number): Uint8Array {
  const rr = Array.from({ length: n }, (_, i) => [0xc0, 12, ...u16(1), ...u16(1), 0, 0, 0, 60, ...u16(4), 10, 0, 0, i + 1]).flat();
  return new Uint8Array([
    ...u16(id),
    ...u16(0x8180),
    ...u16(1),
    ...u16(n),
    ...u16(0),
    ...u16(0),
    ...name(qname),
    ...u16(1),
    ...u16(1),
    ...rr,
  ]);
}
function framed(m: Uint8Array): Uint8Array {
  return new Uint8Array([...u16(m.length), ...m]);
}
function chunk(data: Uint8Array, len = data.length): { data: Uint8Array; len: number } {
  return { data, len };
}

describe("DNS over TCP: the stream's pieces joined and cut by the length prefixes", () => {
  const q = framed(query(7, "a.example"));
  const r = framed(answers(7, "a.example", 2));

  test("a prefix read byte by byte, then the message (dnsmasq): one message", () => {
    const pieces = dnsTcpMessages([chunk(q.subarray(0, 1)), chunk(q.subarray(1, 2)), chunk(q.subarray(2))]);
    expect(pieces).toEqual([{ chunk: 0, bytes: q, truncated: false }]);
    expect(decodeDns(pieces[0]!.bytes, true)).toMatchObject({ TransactionId: 7, ResourceRecords: [["A", "a.example"]] });
  });

  test("two messages in one piece, and one split across pieces", () => {
    const both = new Uint8Array([...q, ...r]);
    expect(dnsTcpMessages([chunk(both)]).map((m) => m.bytes)).toEqual([q, r]);
    const split = dnsTcpMessages([chunk(both.subarray(0, q.length + 5)), chunk(both.subarray(q.length + 5))]);
    expect(split).toEqual([
      { chunk: 0, bytes: q, truncated: false },
      { chunk: 0, bytes: r, truncated: false },
    ]);
  });

  test("a piece captured short: the message is truncated, the next piece starts a new one", () => {
    // the first piece carried the whole response but only 20 bytes were captured
    const pieces = dnsTcpMessages([chunk(r.subarray(0, 20), r.length), chunk(q)]);
    expect(pieces).toEqual([
      { chunk: 0, bytes: r.subarray(0, 20), truncated: true },
      { chunk: 1, bytes: q, truncated: false },
    ]);
    // uncaptured bytes that end inside the message: the rest of it is skipped, framing kept
    const inside = dnsTcpMessages([chunk(r.subarray(0, 20), 25), chunk(r.subarray(25)), chunk(q)]);
    expect(inside.map((m) => [m.chunk, m.bytes.length, m.truncated])).toEqual([
      [0, 20, true],
      [2, q.length, false],
    ]);
  });

  test("a stream that ends inside a message, and uncaptured bytes hiding the next prefix", () => {
    expect(dnsTcpMessages([chunk(q.subarray(0, 9))])).toEqual([{ chunk: 0, bytes: q.subarray(0, 9), truncated: true }]);
    expect(dnsTcpMessages([chunk(q, q.length + 40)])).toEqual([
      { chunk: 0, bytes: q, truncated: false },
      { chunk: 0, bytes: new Uint8Array(0), truncated: true },
    ]);
    expect(dnsTcpMessages([])).toEqual([]);
  });
});

describe("DNS: truncated messages and long answer lists", () => {
  const full = answers(9, "b.example", 5);

  test("a truncated response lists the answers captured whole, then ~", () => {
    // header 12 + question 15 + 3 whole answers of 16 bytes + 7 bytes of the 4th
    const cut = full.subarray(0, 12 + 15 + 3 * 16 + 7);
    expect(decodeDns(cut, false)).toBeUndefined();
    expect(decodeDns(cut, false, true)).toEqual({
      TransactionId: 9,
      ResponseCode: "NOERROR",
      Flags: ["QR", "RD", "RA"],
      AnswerCount: 5,
      ResourceRecords: [
        ["A", "b.example", 60, "IN", "10.0.0.1"],
        ["A", "b.example", 60, "IN", "10.0.0.2"],
        ["A", "b.example", 60, "IN", "10.0.0.3"],
        "~",
      ],
    });
    // over TCP the length prefix tells by itself
    const tcp = framed(full).subarray(0, 2 + cut.length);
    expect(decodeDns(tcp, true)?.ResourceRecords).toHaveLength(4);
    // without the counts of the header there is nothing to show
    expect(decodeDns(full.subarray(0, 11), false, true)?.ResourceRecords).toEqual(["~"]);
    expect(decodeDns(full.subarray(0, 7), false, true)).toBeUndefined();
  });

  test("40 answers: 32 listed, then ~; bytes after a TCP message's length are not its", () => {
    const many = answers(1, "c.example", 40);
    const d = decodeDns(many, false)!;
    expect(d.AnswerCount).toBe(40);
    expect((d.ResourceRecords as unknown[]).length).toBe(33);
    expect((d.ResourceRecords as unknown[])[32]).toBe("~");
    const tcp = new Uint8Array([...framed(query(3, "d.example")), 0xde, 0xad]);
    expect(decodeDns(tcp, true)).toMatchObject({ TransactionId: 3, ResourceRecords: [["A", "d.example"]] });
  });

  test("record data cannot run past its length: an MX whose name leaves its data is malformed", () => {
    const mx = new Uint8Array([
      ...u16(2),
      ...u16(0x8180),
      ...u16(0),
      ...u16(1),
      ...u16(0),
      ...u16(0),
      ...name("e.example"),
      ...u16(15),
      ...u16(1),
      0,
      0,
      0,
      60,
      ...u16(3),
      ...u16(10),
      4,
      ...enc.encode("mail"),
      0,
    ]);
    expect(decodeDns(mx, false)).toBeUndefined();
  });
});

describe("HTTP: messages cut from one capture", () => {
  const texts = (b: Uint8Array): string[] => splitHttp(b).map((p) => dec.decode(p));

  test("pipelined requests, with and without a body", () => {
    const a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    const b = "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    const c = "GET /c HTTP/1.1\r\n\r\n";
    expect(texts(enc.encode(a + b + c))).toEqual([a, b, c]);
    expect(decodeHttp(b)?._Body).toBe("hello");
  });

  test("responses: Content-Length, chunked, 204 and 304 without a body; one without a length runs to the end", () => {
    const r1 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    const r2 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    const r3 = "HTTP/1.1 204 No Content\r\n\r\n";
    const r4 = "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n";
    const r5 = "HTTP/1.0 200 OK\r\n\r\nto the close HTTP/1.1 200 OK\r\n\r\n";
    expect(texts(enc.encode(r1 + r2 + r3 + r4 + r5))).toEqual([r1, r2, r3, r4, r5]);
  });

  test("what follows a message and is none stays with it; a length counts bytes, not characters", () => {
    const body = "héllo"; // 6 bytes
    const r = `HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n${body}`;
    const next = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    expect(texts(enc.encode(r + next))).toEqual([r, next]);
    expect(texts(enc.encode(`${r}garbage`))).toEqual([`${r}garbage`]);
    expect(texts(enc.encode("not http at all"))).toEqual(["not http at all"]);
  });

  test("header names are kept even when they name Object members", () => {
    expect(decodeHttp("GET / HTTP/1.1\r\nconstructor: a\r\ntoString: b\r\nHost: h\r\nHost: again\r\n\r\n")).toEqual({
      _Method: "GET",
      _Url: "/",
      _Version: "HTTP/1.1",
      constructor: "a",
      toString: "b",
      Host: "h",
    });
  });
});

describe("SYSLOG: TCP framing", () => {
  const texts = (s: string): string[] => splitSyslog(enc.encode(s)).map((p) => dec.decode(p));

  test("newline framed, octet counted, and a last frame without its end", () => {
    expect(texts("<13>a: one\n<14>b: two\n")).toEqual(["<13>a: one", "<14>b: two"]);
    expect(texts("10 <13>a: one11 <14>b: two\n\n")).toEqual(["<13>a: one", "<14>b: two\n"]);
    expect(texts("<13>a: one\n<14>b: tw")).toEqual(["<13>a: one", "<14>b: tw"]);
    expect(texts("\n\n")).toEqual([]);
  });

  test("a trailing newline or NUL is not part of the message", () => {
    expect(decodeSyslog("<13>1 - h app - - - text\r\n\0")?.Message).toBe("text");
    expect(decodeSyslog("<13>Nov  1 10:00:00 host app: text\n")?.Message).toBe("text");
  });
});

describe("App JSON of a record", () => {
  const rec = (proto: number, role: number): SockRecord => ({ proto, role, tsFirstNs: 1_000_000_000n }) as unknown as SockRecord;
  const msg = (app: number, rx: boolean, data: Uint8Array, tsNs: bigint, len = data.length): AppMessage => ({
    sockKey: 1n,
    pid: 1,
    tsNs,
    len,
    rx,
    app,
    data,
  });

  test("a DNS server over TCP that read the prefix alone: one query, one answer", () => {
    const q = framed(query(0x77, "f.example"));
    const r = framed(answers(0x77, "f.example", 1));
    const json = appJson(rec(IPPROTO_TCP, SockRole.SOCK_ROLE_SERVER), [
      msg(AppKind.APP_DNS, true, q.subarray(0, 1), 1_000_000_100n),
      msg(AppKind.APP_DNS, true, q.subarray(1, 2), 1_000_000_200n),
      msg(AppKind.APP_DNS, true, q.subarray(2), 1_000_000_300n),
      msg(AppKind.APP_DNS, false, r, 1_000_000_400n),
    ]);
    expect(JSON.parse(`{${json.slice(2)}}`)).toEqual({
      App: "DNS",
      AppRxDns: [{ _Timestamp: 1e-7, TransactionId: 0x77, OpCode: "QUERY", Flags: ["RD"], ResourceRecords: [["A", "f.example"]] }],
      AppTxDns: [
        {
          _Timestamp: 4e-7,
          TransactionId: 0x77,
          ResponseCode: "NOERROR",
          Flags: ["QR", "RD", "RA"],
          AnswerCount: 1,
          ResourceRecords: [["A", "f.example", 60, "IN", "10.0.0.1"]],
        },
      ],
    });
    expect(json).toContain('"_Timestamp": 0.000000100');
  });

  test("UDP DNS captured short is decoded as truncated; HTTP continuation bodies; syslog frames", () => {
    const full = answers(5, "g.example", 3);
    const udp = JSON.parse(
      `{${appJson(rec(17, SockRole.SOCK_ROLE_CLIENT), [msg(AppKind.APP_DNS, true, full.subarray(0, 45), 1_000_000_000n, full.length)]).slice(2)}}`,
    );
    expect(udp.AppRxDns[0].ResourceRecords).toEqual([["A", "g.example", 60, "IN", "10.0.0.1"], "~"]);

    const head = enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcd");
    const http = JSON.parse(
      `{${appJson(rec(IPPROTO_TCP, SockRole.SOCK_ROLE_CLIENT), [
        msg(AppKind.APP_HTTP, true, head, 1_000_000_000n),
        msg(AppKind.APP_HTTP, true, enc.encode("efgh"), 1_000_000_000n),
      ]).slice(2)}}`,
    );
    expect(http.AppRxHttp).toEqual([
      { _Timestamp: 0, _Version: "HTTP/1.1", _Status: 200, _Reason: "OK", "Content-Length": "8", _Body: "abcd" },
      { _Timestamp: 0, _Body: "efgh" },
    ]);
    const first = JSON.parse(
      `{${appJson(rec(IPPROTO_TCP, SockRole.SOCK_ROLE_CLIENT), [msg(AppKind.APP_HTTP, true, enc.encode("efgh"), 1_000_000_000n)]).slice(2)}}`,
    );
    expect(first.AppRxHttp).toEqual([{ _Timestamp: 0, _Exception: "HTTP Message Decoder" }]);

    const sys = JSON.parse(
      `{${appJson(rec(IPPROTO_TCP, SockRole.SOCK_ROLE_SERVER), [msg(AppKind.APP_SYSLOG, true, enc.encode("<13>a: one\n<11>b: two\nnot syslog\n"), 1_000_000_000n)]).slice(2)}}`,
    );
    expect(sys.AppRxSyslog).toEqual([
      { Facility: "User", Severity: "Notice (5)", Priority: 13, Version: 0, Appname: "a", Message: "one" },
      { Facility: "User", Severity: "Error (3)", Priority: 11, Version: 0, Appname: "b", Message: "two" },
      { _Exception: "SYSLOG Message Decoder", _Message: "not syslog" },
    ]);
    // over UDP a datagram is one message, newlines and all
    const dgram = JSON.parse(
      `{${appJson(rec(17, SockRole.SOCK_ROLE_CLIENT), [msg(AppKind.APP_SYSLOG, false, enc.encode("<13>a: one\ntwo"), 1_000_000_000n)]).slice(2)}}`,
    );
    expect(dgram.AppTxSyslog).toEqual([
      { Facility: "User", Severity: "Notice (5)", Priority: 13, Version: 0, Appname: "a", Message: "one\ntwo" },
    ]);
  });
});

describe("App JSON timestamps", () => {
  test("messages older than the record's first packet (held over a restart) count from the first message", () => {
    const r = { proto: IPPROTO_TCP, role: SockRole.SOCK_ROLE_CLIENT, tsFirstNs: 2_000_000_000n } as unknown as SockRecord;
    const m = (tsNs: bigint, rx: boolean, s: string): AppMessage => ({
      sockKey: 1n,
      pid: 1,
      tsNs,
      len: s.length,
      rx,
      app: AppKind.APP_HTTP,
      data: enc.encode(s),
    });
    const json = JSON.parse(
      `{${appJson(r, [m(1_500_000_000n, false, "GET /x HTTP/1.1\r\n\r\n"), m(2_250_000_000n, true, "HTTP/1.1 204 No Content\r\n\r\n")]).slice(2)}}`,
    );
    expect(json.AppTxHttp[0]._Timestamp).toBe(0);
    expect(json.AppRxHttp[0]._Timestamp).toBe(0.75);
  });
});
