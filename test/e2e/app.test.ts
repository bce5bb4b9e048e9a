// Application messages decoded from real traffic: DNS over UDP on port 53, HTTP from curl
// to a server on a port enabled with -p, SYSLOG over UDP 514 and over a UNIX datagram
// socket at /dev/log (the host's own, or one of the test's when the host has none).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { peer, waitForText } from "../helpers/peer.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end application message tests");
const HTTP_PORT = 18000 + (process.pid % 1000);

describe.skipIf(skip)("application messages", () => {
  let agent: RunningAgent;

  function sockOf(pid: number): Promise<Json> {
    return agent.waitFor(
      () => agent.records.find((r) => r.InfoMonitor === "socket" && r.ProcPID === pid && r.App),
      `a socket record with App of ${pid}`,
    );
  }

  beforeAll(async () => {
    agent = await RunningAgent.start(["-o", "json-min", "-p", `http=tcp/${HTTP_PORT},tcp/${HTTP_PORT + 1}`]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  test("DNS over UDP: the query on both sides, the answer with TTL and address", async () => {
    const server = await peer("dns-server", "127.0.0.1", "53");
    const client = await peer("dns-client", "127.0.0.1", "53", "kflowd.example");
    expect(await client.exited).toBe(0);
    expect(await server.exited).toBe(0);
    const query = { TransactionId: 0x4242, OpCode: "QUERY", Flags: ["RD"], ResourceRecords: [["A", "kflowd.example"]] };
    const answer = {
      TransactionId: 0x4242,
      ResponseCode: "NOERROR",
      Flags: ["QR", "RD", "RA"],
      AnswerCount: 1,
      ResourceRecords: [["A", "kflowd.example", 300, "IN", "10.1.2.3"]],
    };
    const c = await sockOf(client.pid);
    expect(c.App).toBe("DNS");
    expect(c.AppTxDns).toEqual([expect.objectContaining(query)]);
    expect(c.AppRxDns).toEqual([expect.objectContaining(answer)]);
    const s = await sockOf(server.pid);
    expect(Object.keys(s).filter((k) => k.startsWith("App"))).toEqual(["App", "AppRxDns", "AppTxDns"]);
    expect((s.AppRxDns as Json[])[0]!._Timestamp as number).toBeGreaterThanOrEqual(0);
  });

  test("HTTP on a port enabled with -p: curl's request and the response, on both sides", async () => {
    const server = Bun.spawn(["python3", "-m", "http.server", String(HTTP_PORT), "--bind", "127.0.0.1"], {
      stdout: "ignore",
      stderr: "pipe",
    });
    try {
      let code = 1;
      for (let i = 0; i < 50 && code !== 0; i++) {
        await Bun.sleep(100);
        code = await Bun.spawn(["curl", "-s", "-o", "/dev/null", `http://127.0.0.1:${HTTP_PORT}/`]).exited;
      }
      expect(code).toBe(0);
      const c = await agent.waitFor(
        () => agent.records.find((r) => r.Proc === "curl" && r.SockRemotePort === HTTP_PORT && r.App),
        "curl's record",
      );
      expect(c.App).toBe("HTTP");
      expect((c.AppTxHttp as Json[])[0]).toMatchObject({ _Method: "GET", _Url: "/", _Version: "HTTP/1.1", Host: `127.0.0.1:${HTTP_PORT}` });
      expect((c.AppRxHttp as Json[])[0]).toMatchObject({ _Version: "HTTP/1.0", _Status: 200, _Reason: "OK" });
      const s = await sockOf(server.pid);
      expect((s.AppRxHttp as Json[])[0]).toMatchObject({ _Method: "GET", "User-Agent": expect.stringMatching(/^curl\//) });
    } finally {
      server.kill();
    }
  });

  test("HTTP reply read after the connection closed (half-close, TIME_WAIT): in a record of its own", async () => {
    const port = HTTP_PORT + 1;
    const server = Bun.spawn(
      [
        "python3",
        "-c",
        `
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", ${port}))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
while c.recv(4096):
    pass
c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 4\\r\\n\\r\\nlate")
c.close()
`,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    await waitForText(server.stdout, "ready\n");
    // the client closes its side, lets the reply and the server's FIN arrive, then reads
    const client = Bun.spawn(
      [
        "python3",
        "-c",
        `
import socket, time
c = socket.create_connection(("127.0.0.1", ${port}))
c.sendall(b"GET /late HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
c.shutdown(socket.SHUT_WR)
time.sleep(0.5)
assert c.recv(4096).endswith(b"late")
c.close()
`,
      ],
      { stderr: "inherit" },
    );
    expect(await client.exited).toBe(0);
    expect(await server.exited).toBe(0);
    const rx = await agent.waitFor(() => {
      const all = agent.records.filter((r) => r.ProcPID === client.pid).flatMap((r) => (r.AppRxHttp as Json[] | undefined) ?? []);
      return all.length > 0 ? all : undefined;
    }, "the reply in a record of the client");
    expect(rx).toEqual([expect.objectContaining({ _Status: 200, _Body: "late" })]);
    const tx = agent.records.filter((r) => r.ProcPID === client.pid).flatMap((r) => (r.AppTxHttp as Json[] | undefined) ?? []);
    expect(tx).toEqual([expect.objectContaining({ _Method: "GET", _Url: "/late" })]);
  });

  test("SYSLOG over UDP 514, RFC 3164 with host and pid", async () => {
    const server = await peer("udp-recv", "127.0.0.1", "514");
    const client = await peer("udp-send", "127.0.0.1", "514", "<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed");
    expect(await client.exited).toBe(0);
    expect(await server.exited).toBe(0);
    const c = await sockOf(client.pid);
    expect(c.AppTxSyslog).toEqual([
      {
        Facility: "Security/Authorization",
        Severity: "Critical (2)",
        Priority: 34,
        Version: 0,
        Timestamp: "Oct 11 22:14:15",
        Hostname: "mymachine",
        Appname: "su",
        ProcId: "123",
        Message: "'su root' failed",
      },
    ]);
    expect((await sockOf(server.pid)).AppRxSyslog).toHaveLength(1);
  });

  test("SYSLOG over the UNIX datagram socket /dev/log, sent by logger", async () => {
    // the host's own log daemon receives it where there is one (on Debian /dev/log links
    // to journald's dev-log), else a receiver of the test's
    const daemon = existsSync("/dev/log") ? undefined : await peer("unix-dgram-recv", "/dev/log");
    const logger = Bun.spawn(["logger", "-u", "/dev/log", "-t", "kflowd-test", "hello from the test"]);
    expect(await logger.exited).toBe(0);
    if (daemon) expect(await daemon.exited).toBe(0);
    const l = await sockOf(logger.pid);
    expect(l).toMatchObject({
      SockFamily: "AF_UNIX",
      SockAddress: expect.stringMatching(/^(\/dev\/log|\/run\/systemd\/journal\/dev-log)$/),
      App: "SYSLOG",
    });
    expect((l.AppTxSyslog as Json[])[0]).toMatchObject({
      Facility: "User",
      Severity: "Notice (5)",
      Appname: "kflowd-test",
      Message: "hello from the test",
    });
  });
});
