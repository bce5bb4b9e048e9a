// Two hosts on one machine: this network namespace and a peer namespace joined by a veth
// pair, so the interface in the records is a real one with a real MAC. A tc program on
// the peer's ingress (test/e2e/fixtures/tc_drop.bpf.c) drops every fourth data segment,
// so the client's retransmissions are real too.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { ROOT } from "../helpers/paths.ts";
import { waitForText } from "../helpers/peer.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(60_000);
const skip = skipWithoutKernel("end-to-end network namespace tests");
const id = process.pid % 200;
const NS = `kflowd-test-${process.pid}`;
const HOST_IF = `kfh${process.pid % 100000}`;
const PEER_IF = `kfp${process.pid % 100000}`;
const HOST_IP = `10.231.${id}.1`;
const PEER_IP = `10.231.${id}.2`;
const HOST_IP6 = `fd00:231:${id}::1`;
const PEER_IP6 = `fd00:231:${id}::2`;
const PORT = 23000 + (process.pid % 1000);
const BYTES = 300_000;

function sh(...argv: string[]): string {
  const r = Bun.spawnSync(argv, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const SERVER = `
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${PEER_IP}", ${PORT}))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
n = 0
while n < ${BYTES}:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.sendall(b"ok")
c.close()
`;

const CLIENT = `
import socket
c = socket.create_connection(("${PEER_IP}", ${PORT}))
c.sendall(b"x" * ${BYTES})
assert c.recv(2) == b"ok"
c.close()
`;

describe.skipIf(skip)("between network namespaces", () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-netns-`);
    sh(
      "clang-16",
      "-O2",
      "-g",
      "-target",
      "bpf",
      `-DDROP_PORT=${PORT}`,
      `-I/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
      "-c",
      `${ROOT}test/e2e/fixtures/tc_drop.bpf.c`,
      "-o",
      `${dir}/drop.o`,
    );
    sh("ip", "netns", "add", NS);
    sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", PEER_IF);
    sh("ip", "link", "set", PEER_IF, "netns", NS);
    sh("ip", "addr", "add", `${HOST_IP}/24`, "dev", HOST_IF);
    sh("ip", "link", "set", HOST_IF, "up");
    sh("ip", "-n", NS, "addr", "add", `${PEER_IP}/24`, "dev", PEER_IF);
    sh("ip", "-n", NS, "link", "set", PEER_IF, "up");
    sh("ip", "addr", "add", `${HOST_IP6}/64`, "dev", HOST_IF, "nodad");
    sh("ip", "-n", NS, "addr", "add", `${PEER_IP6}/64`, "dev", PEER_IF, "nodad");
    sh("ip", "netns", "exec", NS, "tc", "qdisc", "add", "dev", PEER_IF, "clsact");
    sh("ip", "netns", "exec", NS, "tc", "filter", "add", "dev", PEER_IF, "ingress", "bpf", "da", "obj", `${dir}/drop.o`, "sec", "tc");
    agent = await RunningAgent.start(["-o", "json-min", "-m", "socket"]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
    Bun.spawnSync(["ip", "netns", "del", NS]);
  });

  test("TCP over a veth pair: real interface and MAC, retransmissions of dropped segments", async () => {
    const server = Bun.spawn(["ip", "netns", "exec", NS, "python3", "-c", SERVER], { stdout: "pipe", stderr: "inherit" });
    await waitForText(server.stdout, "ready\n");
    const client = Bun.spawn(["python3", "-c", CLIENT], { stderr: "inherit" });
    expect(await client.exited).toBe(0);
    expect(await server.exited).toBe(0);

    const of = (pid: number): Promise<Json> =>
      agent.waitFor(() => agent.records.find((r) => r.ProcPID === pid && r.SockProtocol === "TCP"), `the record of ${pid}`);
    const c = await of(client.pid);
    const ifindex = Number(readFileSync(`/sys/class/net/${HOST_IF}/ifindex`, "utf8"));
    const mac = readFileSync(`/sys/class/net/${HOST_IF}/address`, "utf8").trim();
    expect(c).toMatchObject({
      SockRole: "CLIENT",
      SockState: "TCP_CLOSE",
      SockLocalIP: HOST_IP,
      SockRemoteIP: PEER_IP,
      SockRemotePort: PORT,
      SockTxInterface: `${ifindex}:${HOST_IF}:${mac}`,
      SockRxInterface: `${ifindex}:${HOST_IF}:${mac}`,
      SockRxBytes: 2,
    });
    expect(c.SockTxPacketsRetrans as number).toBeGreaterThan(0);
    expect(c.SockTxBytesRetrans as number).toBeGreaterThan(0);
    // payload on the wire: every byte once, plus what was sent again
    expect(c.SockTxBytes).toBe(BYTES + (c.SockTxBytesRetrans as number));
    expect(c.SockTxBytesAcked as number).toBeGreaterThanOrEqual(BYTES);
    // the peer is another host as far as its sockets go: it received everything once
    const s = await of(server.pid);
    expect(s).toMatchObject({ SockRole: "SERVER", SockLocalIP: PEER_IP, SockLocalPort: PORT, SockRxBytes: BYTES, SockTxBytes: 2 });
  });

  // 4000 bytes of UDP payload over a 1500-byte MTU leave as three IP fragments each
  // (IPv4: 1480 + 1480 + 1048 bytes of the datagram, IPv6: 1448 + 1448 + 1112)
  test("UDP datagrams larger than the MTU: the fragments they arrived in, IPv4 and IPv6", async () => {
    const DATAGRAMS = 5;
    const SIZE = 4000;
    const receiver = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        NS,
        "python3",
        "-c",
        `
import socket
socks = []
for fam, ip in ((socket.AF_INET, "${PEER_IP}"), (socket.AF_INET6, "${PEER_IP6}")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((ip, ${PORT + 1}))
    socks.append(s)
print("ready", flush=True)
for s in socks:
    for _ in range(${DATAGRAMS}):
        assert len(s.recv(65536)) == ${SIZE}
    s.close()
`,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    await waitForText(receiver.stdout, "ready\n");
    const sender = Bun.spawn(
      [
        "python3",
        "-c",
        `
import socket
for fam, ip in ((socket.AF_INET, "${PEER_IP}"), (socket.AF_INET6, "${PEER_IP6}")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for _ in range(${DATAGRAMS}):
        s.sendto(b"f" * ${SIZE}, (ip, ${PORT + 1}))
    s.close()
`,
      ],
      { stderr: "inherit" },
    );
    expect(await sender.exited).toBe(0);
    expect(await receiver.exited).toBe(0);

    for (const family of ["AF_INET", "AF_INET6"]) {
      const r = await agent.waitFor(
        () => agent.records.find((x) => x.ProcPID === receiver.pid && x.SockProtocol === "UDP" && x.SockFamily === family),
        `the receiver's ${family} record`,
      );
      expect(r).toMatchObject({ SockRxPackets: DATAGRAMS, SockRxBytes: DATAGRAMS * SIZE, SockRxPacketsFrag: 3 * DATAGRAMS });
      const s = await agent.waitFor(
        () => agent.records.find((x) => x.ProcPID === sender.pid && x.SockProtocol === "UDP" && x.SockFamily === family),
        `the sender's ${family} record`,
      );
      expect(s).toMatchObject({ SockTxPackets: DATAGRAMS, SockTxBytes: DATAGRAMS * SIZE });
    }
  });
});
