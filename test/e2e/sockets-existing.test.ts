// A TCP connection opened before the agent starts: the start-up iterator finds its two
// processes, so the records of its later traffic name them, with their roles: sockets
// whose cookie nobody asked for, and sockets whose cookie ss made before the start.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { RunningAgent } from "../helpers/agent.ts";
import { waitForText } from "../helpers/peer.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end pre-existing socket tests");
// below the default ephemeral range, so the accepted side counts as the server
const PORT = 21000 + (process.pid % 1000);

const SERVER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", ${PORT}))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
got = b""
while len(got) < 100:
    got += c.recv(100 - len(got))
c.sendall(b"pong" * 10)
c.close()
`;

const CLIENT = `
import socket, sys
c = socket.create_connection(("127.0.0.1", ${PORT}))
print("connected", flush=True)
sys.stdin.readline()
c.sendall(b"ping" * 25)
got = b""
while len(got) < 40:
    got += c.recv(40 - len(got))
c.close()
`;

describe.skipIf(skip)("sockets open before the start", () => {
  test.each([
    ["no cookie yet", false],
    ["cookies made by ss before the start", true],
  ])("both ends are attributed to their processes, with roles and the traffic after the start (%s)", async (_, ss) => {
    const server = Bun.spawn(["python3", "-c", SERVER], { stdout: "pipe", stderr: "inherit" });
    await waitForText(server.stdout, "ready");
    const client = Bun.spawn(["python3", "-c", CLIENT], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    await waitForText(client.stdout, "connected");
    if (ss) {
      const out = Bun.spawnSync(["ss", "-tnHe", "state", "established", `( sport = :${PORT} or dport = :${PORT} )`]).stdout.toString();
      // ss -e prints each socket's cookie as "sk:<hex>", making it where there was none
      expect(out.match(/ sk:[0-9a-f]+ /g)?.length).toBe(2);
    }

    const agent = await RunningAgent.start(["-o", "json-min", "-m", "socket"]);
    try {
      expect(agent.stderr).toContain("hooks for socket-existing: task-file-iterator");
      client.stdin.write("go\n");
      await client.stdin.flush();
      expect(await client.exited).toBe(0);
      expect(await server.exited).toBe(0);
      const of = (pid: number) =>
        agent.waitFor(() => agent.records.find((r) => r.ProcPID === pid && r.SockProtocol === "TCP"), `the record of ${pid}`);
      const c = await of(client.pid);
      expect(c).toMatchObject({
        Proc: expect.stringMatching(/^python3/),
        SockRole: "CLIENT",
        SockRemotePort: PORT,
        SockTxBytes: 100,
        SockRxBytes: 40,
      });
      const s = await of(server.pid);
      expect(s).toMatchObject({
        Proc: expect.stringMatching(/^python3/),
        SockRole: "SERVER",
        SockLocalPort: PORT,
        SockRxBytes: 100,
        SockTxBytes: 40,
      });
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});
