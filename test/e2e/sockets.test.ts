// Socket records from real traffic between separate client and server processes:
// TCP over IPv4 and IPv6, a reset, a refused connect, UDP (connected and not), UNIX
// datagram and stream sockets, and the idle timeout. Counts are checked against what the
// peers sent.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { peer } from "../helpers/peer.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end socket tests");
const firstPort = 20000 + (process.pid % 20000);
let nextPort = firstPort;

describe.skipIf(skip)("socket records", () => {
  let agent: RunningAgent;
  let dir: string;

  /**
   * The peers' stdout is a UNIX socket pair: with -t 1 its record may come first, when a
   * loaded machine keeps a peer waiting for a second. TCP and UDP lookups name their protocol.
   */
  const isProto =
    (proto: "TCP" | "UDP") =>
    (r: Json): boolean =>
      r.SockProtocol === proto;

  /** (unnamed UNIX sockets are a peer's stdio, socketpairs Bun made: never the one a test means) */
  function sockOf(pid: number, more: (r: Json) => boolean = (r) => r.SockAddress !== ""): Promise<Json> {
    return agent.waitFor(
      () => agent.records.find((r) => r.InfoMonitor === "socket" && r.ProcPID === pid && more(r)),
      `a socket record of ${pid}`,
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/kflowd-sock-`);
    agent = await RunningAgent.start(["-o", "json-min", "-t", "1,60"]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  for (const host of ["127.0.0.1", "::1"]) {
    test(`TCP over ${host}: client and server, every block, counts as sent`, async () => {
      const port = nextPort++;
      const server = await peer("tcp-server", host, String(port), "5000");
      const client = await peer("tcp-client", host, String(port), "1200");
      expect(await client.exited).toBe(0);
      expect(await server.exited).toBe(0);
      const family = host.includes(":") ? "AF_INET6" : "AF_INET";

      const c = await sockOf(client.pid, isProto("TCP"));
      expect(c).toMatchObject({
        SockProtocol: "TCP",
        SockRole: "CLIENT",
        SockState: "TCP_CLOSE",
        SockFamily: family,
        SockLocalIP: host,
        SockRemoteIP: host,
        SockRemotePort: port,
        SockTxBytes: 1200,
        SockRxBytes: 5000,
        SockTxInterface: "1:lo:00:00:00:00:00:00",
        SockRxInterface: "1:lo:00:00:00:00:00:00",
        SockRxTTL: 64,
        SockTxPacketsRetrans: 0,
      });
      expect((c.SockTxFlags as Json).SYN).toBe(1);
      expect((c.SockRxFlags as Json)["SYN-ACK"]).toBe(1);
      expect(c.SockRTT as number).toBeGreaterThan(0);
      // kflowd's order: a client lists what it sent first
      const keys = Object.keys(c);
      expect(keys.indexOf("SockTxBytes")).toBeLessThan(keys.indexOf("SockRxBytes"));
      // kflowd's keys end with SockAge; only the cgroup of the process follows
      expect(keys.slice(keys.indexOf("SockAge"))).toEqual(["SockAge", "ProcCgroup"]);

      const s = await sockOf(server.pid, isProto("TCP"));
      expect(s).toMatchObject({
        SockRole: "SERVER",
        SockState: "TCP_CLOSE",
        SockLocalPort: port,
        SockRemotePort: c.SockLocalPort,
        SockRxBytes: 1200,
        SockTxBytes: 5000,
        SockRxPacketsQueued: 0,
      });
      expect(s.SockRxFlags).toMatchObject({ SYN: 1 });
      expect(s.SockTxFlags).toMatchObject({ "SYN-ACK": 1 });
      const skeys = Object.keys(s);
      expect(skeys.indexOf("SockRxBytes")).toBeLessThan(skeys.indexOf("SockTxBytes"));
    });
  }

  test("TCP reset by close() with SO_LINGER 0: both sides are exported, each holds the RST", async () => {
    const port = nextPort++;
    const server = await peer("tcp-server", "127.0.0.1", String(port), "0", "rst");
    const client = await peer("tcp-client", "127.0.0.1", String(port), "10");
    await client.exited;
    expect(await server.exited).toBe(0);
    // close() with SO_LINGER 0 sends its reset after the state change: the record waits for it
    const s = await sockOf(server.pid, isProto("TCP"));
    expect(s).toMatchObject({ SockState: "TCP_CLOSE", SockRxBytes: 10 });
    expect(Object.keys(s.SockTxFlags as Json).some((k) => k.includes("RST"))).toBe(true);
    const c = await sockOf(client.pid, isProto("TCP"));
    expect(c.SockState).toBe("TCP_CLOSE");
    expect(Object.keys(c.SockRxFlags as Json).some((k) => k.includes("RST"))).toBe(true);
  });

  test("a refused connect is a record: SYN out, RST-ACK in", async () => {
    const client = await peer("tcp-client", "127.0.0.1", String(nextPort++), "10");
    expect(await client.exited).toBe(3);
    const c = await sockOf(client.pid, isProto("TCP"));
    expect(c).toMatchObject({
      SockRole: "CLIENT",
      SockState: "TCP_CLOSE",
      SockTxFlags: { SYN: 1 },
      SockRxFlags: { "RST-ACK": 1 },
      SockTxBytes: 0,
    });
  });

  // the connected client's datagrams are too short for the headers to be read in place
  // (less than 6 bytes of payload): the cgroup_skb programs copy them instead
  for (const [connected, request, reply] of [
    [false, 40, 300],
    [true, 3, 1],
  ] as const) {
    test(`UDP request and response, ${connected ? "connected" : "unconnected"} client, ${request} and ${reply} bytes`, async () => {
      const port = nextPort++;
      const server = await peer("udp-server", "127.0.0.1", String(port), String(reply));
      const client = await peer("udp-client", "127.0.0.1", String(port), String(request), ...(connected ? ["connected"] : []));
      expect(await client.exited).toBe(0);
      expect(await server.exited).toBe(0);
      const c = await sockOf(client.pid, isProto("UDP"));
      expect(c).toMatchObject({
        SockProtocol: "UDP",
        SockRole: "CLIENT",
        // bound to no address (unconnected): the source address its packets carried
        SockLocalIP: "127.0.0.1",
        SockRemoteIP: "127.0.0.1",
        SockRemotePort: port,
        SockTxPackets: 1,
        SockTxBytes: request,
        SockRxPackets: 1,
        SockRxBytes: reply,
      });
      const s = await sockOf(server.pid, isProto("UDP"));
      expect(s).toMatchObject({
        SockRole: "SERVER",
        SockLocalIP: "127.0.0.1",
        SockLocalPort: port,
        SockRemotePort: c.SockLocalPort,
        SockRxBytes: request,
        SockTxBytes: reply,
        SockState: "UDP_CLOSE",
      });
    });
  }

  test("UDP receive queue overflow: drops and datagrams still queued at the last read add up", async () => {
    const port = nextPort++;
    const sent = 200;
    const receiver = await peer("udp-flood-recv", "127.0.0.1", String(port));
    const sender = await peer("udp-flood", "127.0.0.1", String(port), String(sent), "1000");
    expect(await sender.exited).toBe(0);
    await receiver.say("go");
    expect(await receiver.exited).toBe(0);
    const r = await sockOf(receiver.pid, isProto("UDP"));
    expect(r).toMatchObject({ SockProtocol: "UDP", SockRole: "SERVER", SockRxPackets: sent });
    const drops = r.SockRxPacketsDrop as number;
    expect(drops).toBeGreaterThan(0);
    // one was read; the read left the rest of what fit into the queue
    expect(drops + (r.SockRxPacketsQueued as number) + 1).toBe(sent);
  });

  for (const kind of ["dgram", "stream"]) {
    test(`UNIX ${kind} sockets: the sender's and the receiver's records`, async () => {
      const path = `${dir}/${kind}.sock`;
      const server = await peer("unix-server", kind, path, "64");
      const client = await peer("unix-client", kind, path, "33");
      expect(await client.exited).toBe(0);
      expect(await server.exited).toBe(0);
      const c = await sockOf(client.pid, (r) => r.SockAddress === path);
      expect(c).toMatchObject({ SockFamily: "AF_UNIX", SockAddress: path, SockTxBytes: 33 });
      expect(c).not.toHaveProperty("SockProtocol");
      const s = await sockOf(server.pid, (r) => r.SockRxBytes === 33);
      expect(s).toMatchObject({ SockFamily: "AF_UNIX", SockAddress: path });
    });
  }

  test("no ownerless record was made from this test's traffic", () => {
    const ours = (port: unknown) => typeof port === "number" && port >= firstPort && port < nextPort;
    const orphans = agent.records.filter(
      (r) => r.InfoMonitor === "socket" && r.ProcPID === 0 && (ours(r.SockLocalPort) || ours(r.SockRemotePort)),
    );
    expect(orphans).toEqual([]);
  });

  test("-t 60,1: a TCP connection busy for 3 s is reported while it lasts, counts split without loss", async () => {
    const agent = await RunningAgent.start(["-o", "json-min", "-m", "socket", "-t", "60,1"]);
    try {
      const port = nextPort++;
      const server = await peer("tcp-server", "127.0.0.1", String(port), "5");
      // 30 sends of 100 bytes, 100 ms apart, then the usual half-close
      const client = Bun.spawn([
        "python3",
        "-c",
        `
import socket, time
c = socket.create_connection(("127.0.0.1", ${port}))
for _ in range(30):
    c.sendall(b"a" * 100)
    time.sleep(0.1)
c.shutdown(socket.SHUT_WR)
while c.recv(100):
    pass
c.close()
`,
      ]);
      expect(await client.exited).toBe(0);
      expect(await server.exited).toBe(0);
      const records = await agent.waitFor(() => {
        const mine = agent.records.filter((r) => r.ProcPID === client.pid && r.SockProtocol === "TCP");
        return mine.some((r) => r.SockState === "TCP_CLOSE") ? mine : undefined;
      }, "the client's closing record");
      // at least one record while the connection was open, then the one of its close
      expect(records.length).toBeGreaterThanOrEqual(2);
      expect(records.slice(0, -1).every((r) => r.SockState === "TCP_ESTABLISHED")).toBe(true);
      // the round-trip time is known while the connection lasts, not only at its close
      expect(records[0]?.SockRTT as number).toBeGreaterThan(0);
      expect(records.reduce((n, r) => n + ((r.SockTxBytes as number | undefined) ?? 0), 0)).toBe(3000);
      expect(records.reduce((n, r) => n + ((r.SockRxBytes as number | undefined) ?? 0), 0)).toBe(5);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  test("-t 1: a UDP socket that stays open is reported after a second idle", async () => {
    const port = nextPort++;
    const server = await peer("udp-server", "127.0.0.1", String(port), "8");
    const client = await peer("udp-client", "127.0.0.1", String(port), "8", "linger");
    await server.exited;
    // the client still holds its socket (it sleeps 3 s)
    const c = await sockOf(client.pid, isProto("UDP"));
    expect(c).toMatchObject({ SockTxBytes: 8, SockRxBytes: 8 });
    expect(await client.exited).toBe(0);
  });
});
