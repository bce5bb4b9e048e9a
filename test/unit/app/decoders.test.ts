import { describe, expect, test } from "bun:test";
import { decodeDns } from "../../../src/app/dns.ts";
import { decodeHttp } from "../../../src/app/http.ts";
import { msgJson } from "../../../src/app/json.ts";
import { decodeSyslog } from "../../../src/app/syslog.ts";

/** A DNS message from its parts; names as label lists. */
function name(n: string): number[] {
  return [...n.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
}
function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}
const QUERY = new Uint8Array([
  ...u16(0x1234),
  ...u16(0x0100),
  ...u16(1),
  ...u16(0),
  ...u16(0),
  ...u16(0),
  ...name("example.com"),
  ...u16(1),
  ...u16(1),
]);
// response: question + A record (name compressed to offset 12) + MX + AAAA
const RESPONSE = new Uint8Array([
  ...u16(0x1234),
  ...u16(0x8180),
  ...u16(1),
  ...u16(3),
  ...u16(0),
  ...u16(0),
  ...name("example.com"),
  ...u16(1),
  ...u16(1),
  0xc0,
  12,
  ...u16(1),
  ...u16(1),
  0,
  0,
  0x0e,
  0x10,
  ...u16(4),
  93,
  184,
  216,
  34,
  0xc0,
  12,
  ...u16(15),
  ...u16(1),
  0,
  0,
  0,
  60,
  ...u16(2 + 7),
  ...u16(10),
  4,
  ...Buffer.from("mail"),
  0xc0,
  12,
  0xc0,
  12,
  ...u16(28),
  ...u16(1),
  0,
  0,
  0,
  5,
  ...u16(16),
  0x20,
  1,
  0x0d,
  0xb8,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
]);

describe("DNS", () => {
  test("a query: id, opcode, flags, the question", () => {
    expect(decodeDns(QUERY, false)).toEqual({
      TransactionId: 0x1234,
      OpCode: "QUERY",
      Flags: ["RD"],
      ResourceRecords: [["A", "example.com"]],
    });
  });

  test("a response: rcode, counts, answers with TTL, class and data, names decompressed", () => {
    expect(decodeDns(RESPONSE, false)).toEqual({
      TransactionId: 0x1234,
      ResponseCode: "NOERROR",
      Flags: ["QR", "RD", "RA"],
      AnswerCount: 3,
      ResourceRecords: [
        ["A", "example.com", 3600, "IN", "93.184.216.34"],
        ["MX", "example.com", 60, "IN", "10 mail.example.com"],
        ["AAAA", "example.com", 5, "IN", "2001:db8::1"],
      ],
    });
  });

  test("over TCP the length prefix is skipped; NXDOMAIN and REFUSED are named", () => {
    const tcp = new Uint8Array([0, QUERY.length, ...QUERY]);
    expect(decodeDns(tcp, true)?.TransactionId).toBe(0x1234);
    const nx = RESPONSE.slice(0, 12 + 17);
    nx[3] = 0x83;
    nx[7] = 0;
    expect(decodeDns(nx, false)?.ResponseCode).toBe("NXDOMAIN");
    nx[3] = 0x85;
    expect(decodeDns(nx, false)?.ResponseCode).toBe("REFUSED");
  });

  test("every response code: kflowd's names for 0-3, IANA's after, the number past them", () => {
    const names = [
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
      "12",
      "13",
      "14",
      "15",
    ];
    const r = RESPONSE.slice();
    for (let rcode = 0; rcode < 16; rcode++) {
      r[3] = 0x80 | rcode;
      expect(decodeDns(r, false)?.ResponseCode).toBe(names[rcode]!);
    }
  });

  test("a compression loop, a pointer forward and a truncated record are malformed", () => {
    const loop = new Uint8Array([...QUERY.slice(0, 12), 0xc0, 12, ...u16(1), ...u16(1)]);
    expect(decodeDns(loop, false)).toBeUndefined();
    const forward = new Uint8Array([...QUERY.slice(0, 12), 0xc0, 40, ...u16(1), ...u16(1)]);
    expect(decodeDns(forward, false)).toBeUndefined();
    expect(decodeDns(RESPONSE.slice(0, RESPONSE.length - 3), false)).toBeUndefined();
    expect(decodeDns(new Uint8Array(5), false)).toBeUndefined();
  });
});

describe("HTTP", () => {
  test("a request: method, URL, version, headers in order, body", () => {
    expect(decodeHttp("POST /api?x=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello")).toEqual({
      _Method: "POST",
      _Url: "/api?x=1",
      _Version: "HTTP/1.1",
      Host: "a.example",
      "Content-Length": "5",
      _Body: "hello",
    });
  });

  test("a response: version, status, reason", () => {
    const r = decodeHttp("HTTP/1.0 404 Not Found\r\nServer: t\r\n\r\n");
    expect(r).toEqual({ _Version: "HTTP/1.0", _Status: 404, _Reason: "Not Found", Server: "t" });
    expect(Object.keys(r!)).toEqual(["_Version", "_Status", "_Reason", "Server"]);
  });

  test("no HTTP: undefined", () => {
    expect(decodeHttp("\x16\x03\x01 binary")).toBeUndefined();
    expect(decodeHttp("")).toBeUndefined();
  });
});

describe("SYSLOG", () => {
  test("the local form logger sends to /dev/log", () => {
    expect(decodeSyslog("<13>Nov 26 15:27:10 root: hello from logger")).toEqual({
      Facility: "User",
      Severity: "Notice (5)",
      Priority: 13,
      Version: 0,
      Timestamp: "Nov 26 15:27:10",
      Appname: "root",
      Message: "hello from logger",
    });
  });

  test("RFC 3164 with host name and pid", () => {
    expect(decodeSyslog("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed")).toMatchObject({
      Facility: "Security/Authorization",
      Severity: "Critical (2)",
      Hostname: "mymachine",
      Appname: "su",
      ProcId: "123",
      Message: "'su root' failed",
    });
  });

  test("RFC 5424 with structured data", () => {
    expect(
      decodeSyslog(
        '<165>1 2003-10-11T22:14:15.003Z host.example evntslog - ID47 [exampleSDID@32473 iut="3" x="a\\]b"] An application event',
      ),
    ).toEqual({
      Facility: "Local4",
      Severity: "Notice (5)",
      Priority: 165,
      Version: 1,
      Timestamp: "2003-10-11T22:14:15.003Z",
      Hostname: "host.example",
      Appname: "evntslog",
      MsgId: "ID47",
      Data: '[exampleSDID@32473 iut="3" x="a\\]b"]',
      Message: "An application event",
    });
  });

  test("no priority, or one out of range: undefined", () => {
    expect(decodeSyslog("hello")).toBeUndefined();
    expect(decodeSyslog("<999>x")).toBeUndefined();
  });
});

describe("fuzz: random and mutated messages never throw, hang or grow without bound", () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const seeds = [QUERY, RESPONSE, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Buffer.from("<13>Nov 26 15:27:10 a: b")];

  // a fifth of the fuzz test's count (KFLOWD_FUZZ, see fuzz.test.ts)
  const n = Math.ceil(Number(process.env.KFLOWD_FUZZ ?? 20_000) / 5);
  test(`${n} inputs through every decoder`, () => {
    for (let i = 0; i < n; i++) {
      const base = seeds[i % seeds.length]!;
      const b = rand() < 0.3 ? new Uint8Array(Math.floor(rand() * 600)) : new Uint8Array(base);
      for (let j = 0; j < b.length; j++) if (b === base || rand() < (b.length === base.length ? 0.05 : 1)) b[j] = Math.floor(rand() * 256);
      const text = Buffer.from(b).toString("latin1");
      for (const out of [decodeDns(b, false), decodeDns(b, true), decodeHttp(text), decodeSyslog(text)]) {
        if (out) expect(msgJson(out).length).toBeLessThan(64 * 1024);
      }
    }
  });
});
