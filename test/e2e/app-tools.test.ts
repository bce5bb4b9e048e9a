// Application messages from real tools, on the default ports: dig and host against dnsmasq
// (UDP and TCP, A/AAAA/MX/TXT/CNAME/SRV/PTR, NXDOMAIN, many answers, an answer longer than
// the capture), curl and a keep-alive client against an HTTP server on tcp/80, and
// logger to a syslog listener on tcp/514 and to journald's UNIX datagram socket. Each
// side's record is found by its process and connection and checked field by field;
// what dig prints is checked against what the agent decoded.
import { run } from "../helpers/run.ts";
import { dnsmasqCommand } from "../helpers/dnsmasq.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, rmdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(60_000);
const skip = skipWithoutKernel("end-to-end application message tests with real tools");

/** loopback addresses of this run (all of 127/8 is local): no clash with other tests' servers */
const HI = (process.pid >> 8) & 0xff;
const LO = process.pid & 0xff || 1;
const DNS_ADDR = `127.53.${HI}.${LO}`;
const HTTP_ADDR = `127.80.${HI}.${LO}`;
const SYSLOG_ADDR = `127.51.${HI}.${LO}`;
const JOURNAL_DIR = "/run/systemd/journal";
const JOURNAL_LOG = `${JOURNAL_DIR}/dev-log`;

/** Starts a server that prints "ready" once listening. */
async function server(cmd: string[]): Promise<Bun.Subprocess<"ignore", "pipe", "inherit">> {
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  expect(text).toBe("ready\n");
  return p;
}

// ---------------------------------------------------------------------------- DNS

const MANY = 40;
const BIG_TXT = Array.from({ length: 6 }, (_, i) => String.fromCharCode(0x61 + i).repeat(250));
/** dnsmasq answering only from these entries, TTL 300, NXDOMAIN for the rest of kflowd.test */
const DNSMASQ = dnsmasqCommand(DNS_ADDR, [
  "--local=/kflowd.test/",
  "--host-record=www.kflowd.test,10.9.8.7,fd00::7",
  "--mx-host=kflowd.test,mail.kflowd.test,10",
  "--txt-record=kflowd.test,hello txt",
  "--cname=alias.kflowd.test,www.kflowd.test",
  "--srv-host=_http._tcp.kflowd.test,www.kflowd.test,80,1,2",
  "--ptr-record=7.8.9.10.in-addr.arpa,www.kflowd.test",
  `--txt-record=big.kflowd.test,${BIG_TXT.join(",")}`,
  ...Array.from({ length: MANY }, (_, i) => `--host-record=many.kflowd.test,10.0.1.${i + 1}`),
]);

interface DnsCase {
  readonly name: string;
  readonly type: string;
  readonly rcode: string;
  /** answers as the agent shows them: [type, name, TTL, class, data] */
  readonly answers: readonly (readonly [string, string, number, string, string])[];
}

const WWW_A = ["A", "www.kflowd.test", 300, "IN", "10.9.8.7"] as const;
const DNS_CASES: readonly DnsCase[] = [
  { name: "www.kflowd.test", type: "A", rcode: "NOERROR", answers: [WWW_A] },
  { name: "www.kflowd.test", type: "AAAA", rcode: "NOERROR", answers: [["AAAA", "www.kflowd.test", 300, "IN", "fd00::7"]] },
  { name: "kflowd.test", type: "MX", rcode: "NOERROR", answers: [["MX", "kflowd.test", 300, "IN", "10 mail.kflowd.test"]] },
  { name: "kflowd.test", type: "TXT", rcode: "NOERROR", answers: [["TXT", "kflowd.test", 300, "IN", "hello txt"]] },
  { name: "nope.kflowd.test", type: "A", rcode: "NXDOMAIN", answers: [] },
  {
    name: "alias.kflowd.test",
    type: "A",
    rcode: "NOERROR",
    answers: [["CNAME", "alias.kflowd.test", 300, "IN", "www.kflowd.test"], WWW_A],
  },
  {
    name: "_http._tcp.kflowd.test",
    type: "SRV",
    rcode: "NOERROR",
    answers: [["SRV", "_http._tcp.kflowd.test", 300, "IN", "1 2 80 www.kflowd.test"]],
  },
  {
    name: "7.8.9.10.in-addr.arpa",
    type: "PTR",
    rcode: "NOERROR",
    answers: [["PTR", "7.8.9.10.in-addr.arpa", 300, "IN", "www.kflowd.test"]],
  },
];

/** What dig printed: header, the five flags kflowd shows, the answer section as the agent shows it. */
function parseDig(out: string): { id: number; rcode: string; flags: string[]; answers: unknown[][] } {
  const header = /->>HEADER<<- opcode: QUERY, status: (\w+), id: (\d+)/.exec(out);
  const flags = /;; flags:([a-z ]*);/.exec(out);
  expect(header).not.toBeNull();
  expect(flags).not.toBeNull();
  const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(out)?.[1] ?? "";
  const answers = section
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const [name, ttl, cls, type, ...data] = line.split(/\s+/);
      let text = data.join(" ").replace(/\.$/, "");
      if (type === "TXT") text = text.replace(/^"|"$/g, "");
      return [type, name!.replace(/\.$/, ""), Number(ttl), cls, text];
    });
  const shown = ["qr", "aa", "tc", "rd", "ra"];
  return {
    rcode: header![1]!,
    id: Number(header![2]),
    flags: flags![1]!
      .trim()
      .split(/\s+/)
      .filter((f) => shown.includes(f))
      .map((f) => f.toUpperCase()),
    answers,
  };
}

describe.skipIf(skip)("application messages from real tools", () => {
  let agent: RunningAgent;
  let dnsmasq: Bun.Subprocess<"ignore", "pipe", "inherit">;
  let dnsmasqPid = 0;

  beforeAll(async () => {
    // -t 1: dnsmasq's one UDP socket is printed after a second without queries
    agent = await RunningAgent.start(["-o", "json-min", "-t", "1"]);
    dnsmasq = Bun.spawn(DNSMASQ, { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
    dnsmasqPid = dnsmasq.pid;
    // ready once it answers
    let answer = "";
    for (let i = 0; i < 50 && answer !== "10.9.8.7"; i++) {
      if (i > 0) await Bun.sleep(100);
      answer = (await run(["dig", `@${DNS_ADDR}`, "+short", "+tries=1", "+time=1", "www.kflowd.test"])).stdout.trim();
    }
    expect(answer, `dnsmasq on ${DNS_ADDR}:53 does not answer`).toBe("10.9.8.7");
  });

  afterAll(async () => {
    dnsmasq?.kill();
    await dnsmasq?.exited;
    if (agent) expect(await agent.stop()).toBe(0);
  });

  function clientRecord(pid: number, app: string, proto: "UDP" | "TCP"): Promise<Json> {
    return agent.waitFor(
      () => agent.records.find((r) => r.ProcPID === pid && r.App === app && r.SockProtocol === proto),
      `the ${proto} ${app} record of ${pid}`,
    );
  }

  /** The server side of a TCP connection: the record whose remote port is the client's. */
  function peerRecord(client: Json, proc: (r: Json) => boolean): Promise<Json> {
    return agent.waitFor(
      () =>
        agent.records.find(
          (r) =>
            proc(r) &&
            r.App &&
            r.SockProtocol === "TCP" &&
            r.SockRemotePort === client.SockLocalPort &&
            r.SockLocalPort === client.SockRemotePort,
        ),
      `the server side of port ${client.SockLocalPort}`,
    );
  }

  /** dnsmasq's own records: its pid, or a child it forked for a TCP connection */
  const isDnsmasq = (r: Json): boolean => r.Proc === "dnsmasq" && (r.ProcPID === dnsmasqPid || r.ProcPPID === dnsmasqPid);

  /** The messages with this transaction id in dnsmasq's UDP records (one socket, several records). */
  function dnsmasqUdp(key: "AppRxDns" | "AppTxDns", id: number): Promise<Json> {
    return agent.waitFor(
      () =>
        agent.records
          .filter((r) => isDnsmasq(r) && r.SockProtocol === "UDP" && r.SockLocalIP === DNS_ADDR)
          .flatMap((r) => (r[key] as Json[] | undefined) ?? [])
          .find((m) => m.TransactionId === id),
      `dnsmasq's ${key} of id ${id}`,
      10_000,
    );
  }

  for (const tcp of [false, true]) {
    const proto = tcp ? "TCP" : "UDP";
    for (const c of DNS_CASES) {
      test(`DNS ${c.type} ${c.name} over ${proto} from dig: ${c.rcode}, both sides`, async () => {
        const dig = await run(["dig", `@${DNS_ADDR}`, ...(tcp ? ["+tcp"] : []), c.name, c.type]);
        expect(dig.code).toBe(0);
        const printed = parseDig(dig.stdout);
        expect(printed.rcode).toBe(c.rcode);
        expect(printed.answers).toEqual(c.answers.map((a) => [...a]));
        const query = {
          _Timestamp: expect.any(Number),
          TransactionId: printed.id,
          OpCode: "QUERY",
          Flags: ["RD"],
          ResourceRecords: [[c.type, c.name]],
        };
        const answer = {
          _Timestamp: expect.any(Number),
          TransactionId: printed.id,
          ResponseCode: c.rcode,
          Flags: printed.flags,
          AnswerCount: c.answers.length,
          ResourceRecords: c.answers,
        };
        const r = await clientRecord(dig.pid, "DNS", proto);
        expect(r).toMatchObject({ SockRemoteIP: DNS_ADDR, SockRemotePort: 53, SockRole: "CLIENT" });
        expect(Object.keys(r).filter((k) => k.startsWith("App"))).toEqual(["App", "AppTxDns", "AppRxDns"]);
        expect(r.AppTxDns).toEqual([query]);
        expect(r.AppRxDns).toEqual([answer]);
        const [tx, rx] = [(r.AppTxDns as Json[])[0]!, (r.AppRxDns as Json[])[0]!];
        expect(rx._Timestamp as number).toBeGreaterThanOrEqual(tx._Timestamp as number);

        // dnsmasq: the same query received, the same answer sent
        if (tcp) {
          // reads the 2-byte length alone, then the message: one query, joined again
          const s = await peerRecord(r, isDnsmasq);
          expect(s).toMatchObject({ SockRole: "SERVER", SockLocalIP: DNS_ADDR, SockLocalPort: 53 });
          expect(Object.keys(s).filter((k) => k.startsWith("App"))).toEqual(["App", "AppRxDns", "AppTxDns"]);
          expect(s.AppRxDns).toEqual([query]);
          expect(s.AppTxDns).toEqual([answer]);
        } else {
          expect(await dnsmasqUdp("AppRxDns", printed.id)).toEqual(query);
          expect(await dnsmasqUdp("AppTxDns", printed.id)).toEqual(answer);
        }
      });
    }
  }

  test("DNS from host over UDP and TCP (-T): TXT and MX, the answer host printed", async () => {
    for (const [args, proto] of [
      [[], "UDP"],
      [["-T"], "TCP"],
    ] as const) {
      const txt = await run(["host", ...args, "-t", "TXT", "kflowd.test", DNS_ADDR]);
      expect(txt.code).toBe(0);
      expect(txt.stdout).toContain('kflowd.test descriptive text "hello txt"');
      const r = await clientRecord(txt.pid, "DNS", proto);
      const id = (r.AppTxDns as Json[])[0]!.TransactionId;
      expect(r.AppTxDns).toEqual([
        { _Timestamp: expect.any(Number), TransactionId: id, OpCode: "QUERY", Flags: ["RD"], ResourceRecords: [["TXT", "kflowd.test"]] },
      ]);
      expect(r.AppRxDns).toEqual([
        {
          _Timestamp: expect.any(Number),
          TransactionId: id,
          ResponseCode: "NOERROR",
          Flags: ["QR", "AA", "RD", "RA"],
          AnswerCount: 1,
          ResourceRecords: [["TXT", "kflowd.test", 300, "IN", "hello txt"]],
        },
      ]);
      const mx = await run(["host", ...args, "-t", "MX", "kflowd.test", DNS_ADDR]);
      expect(mx.stdout).toContain("kflowd.test mail is handled by 10 mail.kflowd.test.");
      const m = await clientRecord(mx.pid, "DNS", proto);
      expect((m.AppRxDns as Json[])[0]!.ResourceRecords).toEqual([["MX", "kflowd.test", 300, "IN", "10 mail.kflowd.test"]]);
    }
  });

  test("DNS with more answers than a message lists: the first 32, then ~", async () => {
    const dig = await run(["dig", `@${DNS_ADDR}`, "many.kflowd.test", "A"]);
    const printed = parseDig(dig.stdout);
    expect(printed.answers).toHaveLength(MANY);
    const rx = (await clientRecord(dig.pid, "DNS", "UDP")).AppRxDns as Json[];
    expect(rx).toHaveLength(1);
    expect(rx[0]).toMatchObject({ TransactionId: printed.id, ResponseCode: "NOERROR", AnswerCount: MANY });
    const listed = rx[0]!.ResourceRecords as unknown[];
    // dnsmasq's order, which dig printed
    expect(listed).toEqual([...printed.answers.slice(0, 32), "~"]);
  });

  test("DNS over TCP with an answer longer than the capture (1400 bytes): header kept, records cut with ~", async () => {
    const dig = await run(["dig", `@${DNS_ADDR}`, "+tcp", "big.kflowd.test", "TXT"]);
    const printed = parseDig(dig.stdout);
    expect(dig.stdout).toMatch(/MSG SIZE {2}rcvd: 1[5-9]\d\d/);
    expect(printed.answers).toEqual([["TXT", "big.kflowd.test", 300, "IN", BIG_TXT.map((s) => `${s}`).join('" "')]]);
    const r = await clientRecord(dig.pid, "DNS", "TCP");
    expect(r.AppRxDns).toEqual([
      {
        _Timestamp: expect.any(Number),
        TransactionId: printed.id,
        ResponseCode: "NOERROR",
        Flags: printed.flags,
        AnswerCount: 1,
        ResourceRecords: ["~"],
      },
    ]);
    const s = await peerRecord(r, isDnsmasq);
    expect((s.AppTxDns as Json[])[0]).toMatchObject({ TransactionId: printed.id, AnswerCount: 1, ResourceRecords: ["~"] });
  });

  // --------------------------------------------------------------------------- HTTP

  /** answers every request of every connection with one write: status, headers, body */
  const HTTPD = `
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 80)); s.listen(8)
print("ready", flush=True)
def serve(c):
    buf = b""
    while True:
        while b"\\r\\n\\r\\n" not in buf:
            d = c.recv(65536)
            if not d:
                c.close(); return
            buf += d
        head, buf = buf.split(b"\\r\\n\\r\\n", 1)
        path = head.split(b" ")[1]
        body = b"body of " + path
        c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nX-Path: " + path +
                  b"\\r\\nContent-Length: " + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

  /** one connection: requests for paths, each after the previous answer; with pause, a break before the last */
  const HTTP_CLIENT = `
import socket, sys, time
addr, mode, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
c = socket.create_connection((addr, 80))
def request(p):
    return ("GET %s HTTP/1.1\\r\\nHost: %s\\r\\nX-Client: kflowd-test\\r\\n\\r\\n" % (p, addr)).encode()
def response(buf):
    while b"\\r\\n\\r\\n" not in buf:
        buf += c.recv(65536)
    head, rest = buf.split(b"\\r\\n\\r\\n", 1)
    n = int([l for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(rest) < n:
        rest += c.recv(65536)
    return rest[n:]
if mode == "pipeline":
    c.sendall(b"".join(request(p) for p in paths))
    buf = b""
    for p in paths:
        buf = response(buf)
else:
    for i, p in enumerate(paths):
        if mode == "pause" and i == len(paths) - 1:
            time.sleep(0.5)
        c.sendall(request(p))
        response(b"")
c.close()
`;

  function httpRequest(path: string, client: "curl" | "python"): Json {
    const headers = client === "curl" ? { "User-Agent": expect.stringMatching(/^curl\//), Accept: "*/*" } : { "X-Client": "kflowd-test" };
    return { _Timestamp: expect.any(Number), _Method: "GET", _Url: path, _Version: "HTTP/1.1", Host: HTTP_ADDR, ...headers };
  }

  function httpResponse(path: string): Json {
    const body = `body of ${path}`;
    return {
      _Timestamp: expect.any(Number),
      _Version: "HTTP/1.1",
      _Status: 200,
      _Reason: "OK",
      "Content-Type": "text/plain",
      "X-Path": path,
      "Content-Length": String(body.length),
      _Body: body,
    };
  }

  /** All records of one TCP connection, by the client's pid and the server's port and pid. */
  function connection(clientPid: number, serverPid: number, count: number): Promise<{ client: Json[]; server: Json[] }> {
    return agent.waitFor(() => {
      const client = agent.records.filter((r) => r.ProcPID === clientPid && r.App === "HTTP");
      const port = client[0]?.SockLocalPort;
      const server = agent.records.filter((r) => r.ProcPID === serverPid && r.App === "HTTP" && r.SockRemotePort === port);
      return client.length >= count && server.length >= count ? { client, server } : undefined;
    }, `${count} HTTP record(s) on each side of ${clientPid}'s connection`);
  }

  test("HTTP on tcp/80 (default port), keep-alive: curl's two requests on one connection, in order, both sides", async () => {
    const httpd = await server(["python3", "-c", HTTPD, HTTP_ADDR]);
    try {
      const curl = await run(["curl", "-s", "--http1.1", `http://${HTTP_ADDR}/first`, `http://${HTTP_ADDR}/second`]);
      expect(curl.code).toBe(0);
      expect(curl.stdout).toBe("body of /firstbody of /second");
      const { client, server: srv } = await connection(curl.pid, httpd.pid, 1);
      expect(client).toHaveLength(1);
      expect(client[0]).toMatchObject({ SockRemoteIP: HTTP_ADDR, SockRemotePort: 80, SockRole: "CLIENT" });
      expect(client[0]!.AppTxHttp).toEqual([httpRequest("/first", "curl"), httpRequest("/second", "curl")]);
      expect(client[0]!.AppRxHttp).toEqual([httpResponse("/first"), httpResponse("/second")]);
      const times = [...(client[0]!.AppTxHttp as Json[]), ...(client[0]!.AppRxHttp as Json[])].map((m) => m._Timestamp as number);
      // request 1 < response 1 < request 2 < response 2
      expect(times[0]!).toBeLessThan(times[2]!);
      expect(times[2]!).toBeLessThan(times[1]!);
      expect(times[1]!).toBeLessThan(times[3]!);
      expect(srv).toHaveLength(1);
      expect(Object.keys(srv[0]!).filter((k) => k.startsWith("App"))).toEqual(["App", "AppRxHttp", "AppTxHttp"]);
      expect(srv[0]!.AppRxHttp).toEqual([httpRequest("/first", "curl"), httpRequest("/second", "curl")]);
      expect(srv[0]!.AppTxHttp).toEqual([httpResponse("/first"), httpResponse("/second")]);
    } finally {
      httpd.kill();
    }
  });

  test("HTTP keep-alive past a record's 4 messages: the first two exchanges in one record, the third in the next", async () => {
    const httpd = await server(["python3", "-c", HTTPD, HTTP_ADDR]);
    try {
      const client = await run(["python3", "-c", HTTP_CLIENT, HTTP_ADDR, "pause", "/k1", "/k2", "/k3"]);
      expect(client.code).toBe(0);
      const { client: c, server: s } = await connection(client.pid, httpd.pid, 2);
      expect(c.map((r) => [r.AppTxHttp, r.AppRxHttp])).toEqual([
        [
          [httpRequest("/k1", "python"), httpRequest("/k2", "python")],
          [httpResponse("/k1"), httpResponse("/k2")],
        ],
        [[httpRequest("/k3", "python")], [httpResponse("/k3")]],
      ]);
      expect(s.map((r) => [r.AppRxHttp, r.AppTxHttp])).toEqual([
        [
          [httpRequest("/k1", "python"), httpRequest("/k2", "python")],
          [httpResponse("/k1"), httpResponse("/k2")],
        ],
        [[httpRequest("/k3", "python")], [httpResponse("/k3")]],
      ]);
      // each record counts from its own start
      for (const r of [...c, ...s]) {
        for (const m of [...(r.AppTxHttp as Json[]), ...(r.AppRxHttp as Json[])]) expect(m._Timestamp as number).toBeGreaterThanOrEqual(0);
      }
    } finally {
      httpd.kill();
    }
  });

  test("HTTP keep-alive, three exchanges without a pause: every message once, across the connection's records", async () => {
    const httpd = await server(["python3", "-c", HTTPD, HTTP_ADDR]);
    try {
      const paths = ["/q1", "/q2", "/q3"];
      const curl = await run(["curl", "-s", "--http1.1", ...paths.map((p) => `http://${HTTP_ADDR}${p}`)]);
      expect(curl.code).toBe(0);
      const all = await agent.waitFor(() => {
        const recs = agent.records.filter((r) => r.ProcPID === curl.pid && r.App === "HTTP");
        const tx = recs.flatMap((r) => (r.AppTxHttp as Json[] | undefined) ?? []);
        const rx = recs.flatMap((r) => (r.AppRxHttp as Json[] | undefined) ?? []);
        return tx.length >= 3 && rx.length >= 3 ? { tx, rx } : undefined;
      }, "all six messages of curl's connection");
      expect(all.tx).toEqual(paths.map((p) => httpRequest(p, "curl")));
      expect(all.rx).toEqual(paths.map((p) => httpResponse(p)));
    } finally {
      httpd.kill();
    }
  });

  test("HTTP pipelining: two requests in one write are two messages on both sides", async () => {
    const httpd = await server(["python3", "-c", HTTPD, HTTP_ADDR]);
    try {
      const client = await run(["python3", "-c", HTTP_CLIENT, HTTP_ADDR, "pipeline", "/p1", "/p2"]);
      expect(client.code).toBe(0);
      const { client: c, server: s } = await connection(client.pid, httpd.pid, 1);
      const requests = [httpRequest("/p1", "python"), httpRequest("/p2", "python")];
      const responses = [httpResponse("/p1"), httpResponse("/p2")];
      expect(c[0]!.AppTxHttp).toEqual(requests);
      expect(c[0]!.AppRxHttp).toEqual(responses);
      expect(s[0]!.AppRxHttp).toEqual(requests);
      expect(s[0]!.AppTxHttp).toEqual(responses);
    } finally {
      httpd.kill();
    }
  });

  // ------------------------------------------------------------------------- SYSLOG

  /** accepts connections on tcp/514 and reads each to its end */
  const SYSLOGD_TCP = `
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 514)); s.listen(8)
print("ready", flush=True)
def drain(c):
    while c.recv(65536):
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
`;

  const LOGGER_TCP = ["logger", "--tcp", "-n", SYSLOG_ADDR, "-P", "514"];
  const host = hostname();

  async function loggerBothSides(args: string[], syslogdPid: number): Promise<[Json, Json]> {
    const logger = await run([...LOGGER_TCP, ...args]);
    expect(logger.code).toBe(0);
    const c = await clientRecord(logger.pid, "SYSLOG", "TCP");
    expect(c).toMatchObject({ SockRemoteIP: SYSLOG_ADDR, SockRemotePort: 514 });
    expect(Object.keys(c).filter((k) => k.startsWith("App"))).toEqual(["App", "AppTxSyslog"]);
    const s = await peerRecord(c, (r) => r.ProcPID === syslogdPid);
    expect(Object.keys(s).filter((k) => k.startsWith("App"))).toEqual(["App", "AppRxSyslog"]);
    return [c, s];
  }

  test("SYSLOG over tcp/514 from logger: RFC 5424 with structured data, RFC 3164, octet counting", async () => {
    const syslogd = await server(["python3", "-c", SYSLOGD_TCP, SYSLOG_ADDR]);
    try {
      // RFC 5424 (newline framed), two SD parameters, one with escaped ] and "
      const [c1, s1] = await loggerBothSides(
        [
          "--rfc5424=notq",
          "--sd-id",
          "zoo@32473",
          "--sd-param",
          'tiger="hungry"',
          "--sd-param",
          'note="a \\] b \\"q\\""',
          "--msgid",
          "MID5",
          "--id=4242",
          "-t",
          "kflowd-test",
          "-p",
          "local3.warning",
          "structured hello",
        ],
        syslogd.pid,
      );
      const rfc5424 = {
        Facility: "Local3",
        Severity: "Warning (4)",
        Priority: 156,
        Version: 1,
        Timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d$/),
        Hostname: host,
        Appname: "kflowd-test",
        ProcId: "4242",
        MsgId: "MID5",
        Data: '[zoo@32473 tiger="hungry" note="a \\] b \\"q\\""]',
        Message: "structured hello",
      };
      expect(c1.AppTxSyslog).toEqual([rfc5424]);
      expect(s1.AppRxSyslog).toEqual([rfc5424]);
      expect(Object.keys((c1.AppTxSyslog as Json[])[0]!)).toEqual(Object.keys(rfc5424));

      const [c2, s2] = await loggerBothSides(["--rfc3164", "--id=77", "-t", "kflowd-test", "-p", "auth.err", "classic hello"], syslogd.pid);
      const rfc3164 = {
        Facility: "Security/Authorization",
        Severity: "Error (3)",
        Priority: 35,
        Version: 0,
        Timestamp: expect.stringMatching(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$/),
        Hostname: host,
        Appname: "kflowd-test",
        ProcId: "77",
        Message: "classic hello",
      };
      expect(c2.AppTxSyslog).toEqual([rfc3164]);
      expect(s2.AppRxSyslog).toEqual([rfc3164]);

      // RFC 6587 octet counting: "LEN <PRI>1 ..."; the length is framing, not message
      const [c3, s3] = await loggerBothSides(["--octet-count", "--rfc5424=notq", "-t", "kflowd-test", "counted hello"], syslogd.pid);
      const counted = {
        Facility: "User",
        Severity: "Notice (5)",
        Priority: 13,
        Version: 1,
        Hostname: host,
        Appname: "kflowd-test",
        Message: "counted hello",
      };
      expect((c3.AppTxSyslog as Json[])[0]).toEqual({ ...counted, Timestamp: expect.any(String) });
      expect((s3.AppRxSyslog as Json[])[0]).toEqual({ ...counted, Timestamp: expect.any(String) });
    } finally {
      syslogd.kill();
    }
  });

  test(`SYSLOG over journald's UNIX datagram socket ${JOURNAL_LOG}, sent by logger`, async () => {
    // journald's socket when it runs; else ours in its place, removed afterwards
    const ours = !existsSync(JOURNAL_LOG);
    const made: string[] = [];
    let daemon: Bun.Subprocess<"ignore", "pipe", "inherit"> | undefined;
    if (ours) {
      for (const dir of ["/run/systemd", JOURNAL_DIR]) {
        if (!existsSync(dir)) {
          mkdirSync(dir);
          made.unshift(dir);
        }
      }
      // recvfrom with an address buffer, as log daemons do: the sender's address is no log path
      daemon = await server([
        "python3",
        "-c",
        'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ready", flush=True)\ns.settimeout(10)\ns.recvfrom(65536)\n',
        JOURNAL_LOG,
      ]);
    }
    try {
      const logger = await run([
        "logger",
        "-d",
        "-u",
        JOURNAL_LOG,
        "--id=99",
        "-t",
        "kflowd-unix",
        "-p",
        "local7.info",
        "over the journal socket",
      ]);
      expect(logger.code).toBe(0);
      const l = await agent.waitFor(
        () => agent.records.find((r) => r.ProcPID === logger.pid && r.App === "SYSLOG"),
        `logger ${logger.pid}'s record`,
      );
      expect(l).toMatchObject({ SockFamily: "AF_UNIX", SockAddress: JOURNAL_LOG, SockRole: "CLIENT" });
      const local = {
        Facility: "Local7",
        Severity: "Informational (6)",
        Priority: 190,
        Version: 0,
        Timestamp: expect.stringMatching(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$/),
        Appname: "kflowd-unix",
        ProcId: "99",
        Message: "over the journal socket",
      };
      expect(l.AppTxSyslog).toEqual([local]);
      if (daemon) {
        expect(await daemon.exited).toBe(0);
        const d = await agent.waitFor(
          () => agent.records.find((r) => r.ProcPID === daemon!.pid && r.App === "SYSLOG"),
          "the receiver's record",
        );
        expect(d.AppRxSyslog).toEqual([local]);
      }
    } finally {
      daemon?.kill();
      if (ours) {
        rmSync(JOURNAL_LOG, { force: true });
        for (const dir of made) rmdirSync(dir);
      }
    }
  });
});
