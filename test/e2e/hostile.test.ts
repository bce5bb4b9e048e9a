// Hostile application payloads over real sockets while the agent runs with its default
// ports (DNS udp/53 and tcp/53, SYSLOG udp/514) and HTTP on a port given with -p:
// malformed DNS (compression loops, counts larger than the message, truncated), giant and
// binary HTTP, SYSLOG without a priority and giant. The agent must stay up with bounded
// memory, print only valid JSON, and show each message decoded or as `_Exception`.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, mkdtempSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { AgentProcess, type Json } from "./agent-process.ts";

setDefaultTimeout(60_000);
const skip = skipWithoutKernel("end-to-end hostile input tests");
/** a loopback address of this run's own (all of 127/8 is loopback): ports 53 and 514 stay free of other tests */
const HOST = `127.77.${process.pid % 250}.${1 + ((process.pid >> 8) % 250)}`;

/**
 * Peers in Python, one process per message so records are told apart by ProcPID.
 *   send udp|tcp HOST PORT [N]   send stdin as one datagram, or over one connection,
 *                                then read N answer bytes and close
 *   serve udp|tcp HOST PORT N    print "ready"; take N datagrams, or N connections: read
 *                                until 300 ms pass without data, answer with stdin, wait
 *                                for the client to close
 * The client closes first, after reading the whole answer: its record is printed with
 * what it read.
 */
const PEER = `
import socket, sys
mode, proto, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
n = int(sys.argv[5]) if len(sys.argv) > 5 else 0
data = sys.stdin.buffer.read()
socket.setdefaulttimeout(10)
kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
if mode == "send":
    if proto == "udp":
        s.sendto(data, (host, port))
    else:
        s.connect((host, port))
        s.sendall(data)
        got = 0
        while got < n:
            got += len(s.recv(65536))
else:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    if proto == "tcp":
        s.listen(8)
    print("ready", flush=True)
    for _ in range(n):
        if proto == "udp":
            s.recv(65536)
            continue
        c, _ = s.accept()
        c.settimeout(0.3)
        try:
            while c.recv(65536):
                pass
        except socket.timeout:
            pass
        c.settimeout(10)
        c.sendall(data)
        while c.recv(65536):
            pass
        c.close()
s.close()
`;

async function send(proto: "udp" | "tcp", port: number, payload: Uint8Array, answerBytes = 0): Promise<number> {
  const p = Bun.spawn(["python3", "-c", PEER, "send", proto, HOST, String(port), String(answerBytes)], {
    stdin: payload,
    stderr: "inherit",
  });
  expect(await p.exited).toBe(0);
  return p.pid;
}

async function serve(
  proto: "udp" | "tcp",
  port: number,
  count: number,
  reply: Uint8Array = new Uint8Array(),
): Promise<{ pid: number; exited: Promise<number> }> {
  const p = Bun.spawn(["python3", "-c", PEER, "serve", proto, HOST, String(port), String(count)], {
    stdin: reply,
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = p.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    line += new TextDecoder().decode(value);
  }
  expect(line).toBe("ready\n");
  return { pid: p.pid, exited: p.exited };
}

/** A TCP port free on HOST (bound, then released). */
function freeTcpPort(): number {
  const l = Bun.listen({ hostname: HOST, port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

const enc = new TextEncoder();
const bytes = (...parts: (number[] | string | Uint8Array)[]): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...enc.encode(p)] : [...p])));
const u16 = (n: number): number[] => [n >> 8, n & 255];
/** a DNS header: id, flags, then the four counts */
const dnsHeader = (id: number, qd: number, an = 0, ns = 0, ar = 0, flags = 0x0100): number[] => [
  ...u16(id),
  ...u16(flags),
  ...u16(qd),
  ...u16(an),
  ...u16(ns),
  ...u16(ar),
];
/** "hostile.example" as labels */
const NAME = [7, ...enc.encode("hostile"), 7, ...enc.encode("example"), 0];
const A_IN = [0, 1, 0, 1];
/** seeded bytes, the same each run */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const DNS: Record<string, Uint8Array> = {
  "a valid query": bytes(dnsHeader(0x1001, 1), NAME, A_IN),
  "a name pointing at itself": bytes(dnsHeader(0x1002, 1), [0xc0, 12], A_IN),
  "two names pointing at each other": bytes(dnsHeader(0x1003, 2), [0xc0, 18], A_IN, [0xc0, 12], A_IN),
  "a pointer past the end": bytes(dnsHeader(0x1004, 1), [0xc0, 0xff], A_IN),
  "counts far larger than the message": bytes(dnsHeader(0x1005, 0xffff, 0xffff, 0xffff, 0xffff), NAME, A_IN),
  "a label longer than the message": bytes(dnsHeader(0x1006, 1), [63, 97, 98, 99]),
  "a header cut short": bytes([0x10, 0x07, 0x01, 0x00, 0x00]),
  "a response with an answer cut in its data": bytes(
    dnsHeader(0x1008, 1, 1, 0, 0, 0x8180),
    NAME,
    A_IN,
    [0xc0, 12],
    A_IN,
    [0, 0, 0, 60],
    u16(400),
    [1, 2],
  ),
  "binary noise": noise(300, 7),
  "4000 bytes, more than is captured": bytes(dnsHeader(0x100a, 1), NAME, A_IN, noise(4000, 11)),
};

const HTTP: Record<string, Uint8Array> = {
  "a valid request": bytes("GET /fine HTTP/1.1\r\nHost: hostile.example\r\n\r\n"),
  "a 100 KB header": bytes("GET /big HTTP/1.1\r\nHost: hostile.example\r\nX-Big: ", "a".repeat(100_000), "\r\n\r\n"),
  "binary noise": noise(2000, 13),
  "NULs, bytes over 0x7f and escapes in the request line and headers": bytes(
    "GET /\x00\x1b[31m",
    [0xff, 0xfe, 0xc3, 0x28],
    " HTTP/1.1\r\nHost: \x00\x01\x02",
    [0x80, 0xbf],
    '\r\n"quoted\\": \u2028\r\nno-colon-here\r\n\r\n',
  ),
  "a header line of 5000 colons": bytes("POST / HTTP/1.0\r\n", ":".repeat(5000), "\r\n\r\n"),
};
/** what the HTTP server answers every request with: binary and oversized headers */
const HTTP_REPLY = bytes("HTTP/1.1 200 OK\r\nX-Bin: ", [0, 1, 0xfe, 0xff, 0x22, 0x5c], "\r\nX-Long: ", "b".repeat(4000), "\r\n\r\nbody");

const SYSLOG: Record<string, Uint8Array> = {
  "an RFC 5424 message": bytes("<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - 'su root' failed"),
  "no priority": bytes("no priority at all, just text"),
  "a priority out of range": bytes("<99999999999>Oct 11 22:14:15 host app: too big"),
  "an unclosed priority": bytes("<13"),
  "60000 bytes": bytes("<13>Oct 11 22:14:15 host app: ", "g".repeat(60_000)),
  "NULs and invalid UTF-8": bytes("<13>Oct 11 22:14:15 host app[1]: ", [0xff, 0xfe, 0, 1, 0xc3, 0x28, 0x22, 0x5c], " end"),
};

describe.skipIf(skip)("hostile application payloads", () => {
  let agent: AgentProcess;
  let rssBefore: number;
  const httpPort = skip ? 0 : freeTcpPort();
  /** App* messages of one sender's socket record(s), in order */
  const sent = new Map<string, Json[]>();

  /** The messages the sender's socket record(s) list under key. */
  async function messagesOf(pid: number, key: string): Promise<Json[]> {
    const records = await agent.waitFor(() => {
      const mine = agent.records.filter((r) => r.ProcPID === pid && r.InfoMonitor === "socket" && r.App);
      return mine.length > 0 ? mine : undefined;
    }, `the socket record with App of sender ${pid}`);
    return records.flatMap((r) => (r[key] as Json[] | undefined) ?? []);
  }

  beforeAll(async () => {
    agent = await AgentProcess.start(["-o", "json-min", "-p", `http=tcp/${httpPort}`]);
    // the heap grows to its working size with the first few thousand records: measure after that
    const warm = mkdtempSync(`${tmpdir()}/kflowd-hostile-`);
    for (let i = 0; i < 20_000; i++) closeSync(openSync(`${warm}/warm-up-${i % 16}`, "w"));
    await Bun.sleep(500);
    rssBefore = agent.rssMiB();
  });

  afterAll(async () => {
    if (!agent) return;
    if (!agent.alive()) return;
    expect(await agent.stop()).toBe(0);
  });

  test("DNS over UDP 53: every malformed message is an _Exception, the valid one is decoded", async () => {
    const server = await serve("udp", 53, Object.keys(DNS).length);
    for (const [name, payload] of Object.entries(DNS))
      sent.set(`dns ${name}`, await messagesOf(await send("udp", 53, payload), "AppTxDns"));
    expect(await server.exited).toBe(0);
    const failed = { _Exception: "DNS Message Decoder" };
    for (const [name, list] of sent) {
      if (!name.startsWith("dns ")) continue;
      expect({ name, count: list.length }).toEqual({ name, count: 1 });
    }
    expect(sent.get("dns a valid query")![0]).toMatchObject({
      TransactionId: 0x1001,
      OpCode: "QUERY",
      ResourceRecords: [["A", "hostile.example"]],
    });
    for (const name of [
      "a name pointing at itself",
      "two names pointing at each other",
      "a pointer past the end",
      "counts far larger than the message",
      "a label longer than the message",
      "a header cut short",
      "a response with an answer cut in its data",
      "binary noise",
    ]) {
      expect({ name, message: sent.get(`dns ${name}`)![0] }).toEqual({ name, message: { _Timestamp: expect.any(Number), ...failed } });
    }
    // the receiving side lists what it got the same way
    const rx = await messagesOf(server.pid, "AppRxDns");
    expect(rx.length).toBeGreaterThan(0);
    for (const m of rx) expect("_Exception" in m || "TransactionId" in m).toBe(true);
    expect(agent.alive()).toBe(true);
  });

  test("DNS over TCP 53: a length prefix larger than the message (and a question cut short), then a valid query", async () => {
    const server = await serve("tcp", 53, 2);
    const cut = await messagesOf(await send("tcp", 53, bytes([0xff, 0xff], dnsHeader(0x2001, 1), NAME)), "AppTxDns");
    const valid = DNS["a valid query"]!;
    const fine = await messagesOf(await send("tcp", 53, bytes(u16(valid.length), valid)), "AppTxDns");
    expect(await server.exited).toBe(0);
    // read as a message the capture cut short: its header, and "~" for the question not there whole
    expect(cut).toEqual([
      { _Timestamp: expect.any(Number), TransactionId: 0x2001, OpCode: "QUERY", Flags: ["RD"], ResourceRecords: ["~"] },
    ]);
    expect(fine).toEqual([expect.objectContaining({ TransactionId: 0x1001, ResourceRecords: [["A", "hostile.example"]] })]);
  });

  test("HTTP on the -p port: giant, binary and malformed requests and a binary answer", async () => {
    const server = await serve("tcp", httpPort, Object.keys(HTTP).length, HTTP_REPLY);
    const tx = new Map<string, Json[]>();
    const rx = new Map<string, Json[]>();
    for (const [name, payload] of Object.entries(HTTP)) {
      const pid = await send("tcp", httpPort, payload, HTTP_REPLY.length);
      tx.set(name, await messagesOf(pid, "AppTxHttp"));
      rx.set(name, await messagesOf(pid, "AppRxHttp"));
    }
    expect(await server.exited).toBe(0);
    expect(tx.get("a valid request")![0]).toMatchObject({ _Method: "GET", _Url: "/fine", _Version: "HTTP/1.1", Host: "hostile.example" });
    expect(tx.get("a 100 KB header")![0]).toMatchObject({ _Method: "GET", _Url: "/big", Host: "hostile.example" });
    expect(tx.get("binary noise")![0]).toEqual({ _Timestamp: expect.any(Number), _Exception: "HTTP Message Decoder" });
    for (const [name, list] of tx) {
      expect({ name, some: list.length > 0 }).toEqual({ name, some: true });
      for (const m of list) expect({ name, decoded: "_Exception" in m || "_Method" in m || "_Body" in m }).toEqual({ name, decoded: true });
    }
    // every client got the same answer, read the same way
    for (const [name, list] of rx) {
      expect({ name, answer: list[0] }).toEqual({
        name,
        answer: expect.objectContaining({ _Version: "HTTP/1.1", _Status: 200, _Reason: "OK" }),
      });
    }
  });

  test("SYSLOG over UDP 514: without a priority or out of range an _Exception with the text, giant ones cut, RFC 5424 decoded", async () => {
    const server = await serve("udp", 514, Object.keys(SYSLOG).length);
    const got = new Map<string, Json[]>();
    for (const [name, payload] of Object.entries(SYSLOG)) got.set(name, await messagesOf(await send("udp", 514, payload), "AppTxSyslog"));
    expect(await server.exited).toBe(0);
    expect(got.get("an RFC 5424 message")).toEqual([
      expect.objectContaining({
        Priority: 34,
        Version: 1,
        Hostname: "mymachine",
        Appname: "su",
        MsgId: "ID47",
        Message: "'su root' failed",
      }),
    ]);
    for (const name of ["no priority", "a priority out of range", "an unclosed priority"]) {
      const text = new TextDecoder().decode(SYSLOG[name]);
      expect({ name, got: got.get(name) }).toEqual({ name, got: [{ _Exception: "SYSLOG Message Decoder", _Message: text }] });
    }
    const giant = got.get("60000 bytes")!;
    expect(giant).toHaveLength(1);
    expect(giant[0]).toMatchObject({ Priority: 13, Hostname: "host", Appname: "app" });
    // cut to the captured bytes (--app-bytes, 1400 by default), not 60000
    expect(String(giant[0]!.Message).length).toBeLessThan(1400);
    expect(String(giant[0]!.Message)).toMatch(/^g+$/);
    const binary = got.get("NULs and invalid UTF-8")!;
    expect(binary).toEqual([expect.objectContaining({ Priority: 13, Appname: "app", ProcId: "1" })]);
  });

  test("afterwards: the agent is up, memory is bounded, every line was JSON, it stops with 0 and nothing was malformed", async () => {
    expect(agent.alive()).toBe(true);
    expect(agent.rssMiB() - rssBefore).toBeLessThan(100);
    expect(agent.invalid).toEqual([]);
    expect(agent.records.length).toBeGreaterThan(0);
    expect(await agent.stop()).toBe(0);
    expect(agent.invalid).toEqual([]);
    expect(agent.summary().lost.malformed).toBe(0);
    expect(agent.strayStderr()).toEqual([]);
  });
});
