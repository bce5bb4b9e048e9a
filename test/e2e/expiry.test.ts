// Expiry under continuous traffic: with -t 1,1 the agent prints a file and a socket every
// second while a program keeps writing and sending without pause. Whatever the kernel
// counted while the agent read, printed or removed a record must reach a record: the
// counts of all records of the file and of the socket add up to what the program did.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(60_000);
const skip = skipWithoutKernel("end-to-end expiry tests");

const SECONDS = 4.5;

/** Runs a python3 script that prints one JSON line of what it did; returns that and its pid. */
async function python(script: string, cwd: string): Promise<{ pid: number; did: Record<string, number> }> {
  const p = Bun.spawn(["python3", "-c", script], { cwd, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`python3: ${await new Response(p.stderr).text()}`);
  return { pid: p.pid, did: JSON.parse(out) };
}

const sum = (records: Json[], get: (r: Json) => unknown): number => records.reduce((a, r) => a + Number(get(r) ?? 0), 0);

describe.skipIf(skip)("expiry under continuous traffic", () => {
  test("-t 1,1: a file written without pause, printed every second: every write counted once", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-expiry-`);
    const agent = await RunningAgent.start(["-o", "json-min", "-m", "file", "-t", "1,1"]);
    try {
      const { pid, did } = await python(
        `import json, os, time
fd = os.open("busy.log", os.O_CREAT | os.O_WRONLY, 0o644)
n, end = 0, time.monotonic() + ${SECONDS}
while time.monotonic() < end:
    for _ in range(100):
        os.write(fd, b"x")
    n += 100
os.close(fd)
print(json.dumps({"writes": n}))`,
        dir,
      );
      const path = `${dir}/busy.log`;
      const closed = await agent.waitFor(
        () => agent.fileRecords(path).find((r) => (r.FileEvents as Record<string, number>).CLOSE_WRITE),
        "the record of the close",
        10_000,
      );
      expect(closed.ProcPID).toBe(pid);
      const records = agent.fileRecords(path).filter((r) => r.ProcPID === pid);
      // printed while written, and at its close
      expect(records.length).toBeGreaterThanOrEqual(2);
      const events = (r: Json, e: string) => (r.FileEvents as Record<string, number>)[e];
      expect(sum(records, (r) => events(r, "MODIFY"))).toBe(did.writes!);
      expect(sum(records, (r) => events(r, "CREATE"))).toBe(1);
      expect(sum(records, (r) => events(r, "OPEN"))).toBe(1);
      expect(sum(records, (r) => events(r, "CLOSE_WRITE"))).toBe(1);
      expect(sum(records, (r) => r.FileEventCount)).toBe(did.writes! + 3);
      // each record's size change is its own part: together the whole file
      expect(sum(records, (r) => r.FileSizeChange)).toBe(did.writes!);
      expect(records.at(-1)!.FileSize).toBe(did.writes!);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  test("-t 1,1: UDP datagrams sent without pause, printed every second: every packet counted once", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-expiry-`);
    const agent = await RunningAgent.start(["-o", "json-min", "-m", "socket", "-p", "dns=off", "-p", "syslog=off", "-t", "1,1"]);
    try {
      const { pid, did } = await python(
        `import json, socket, time
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.connect(rx.getsockname())
n, end = 0, time.monotonic() + ${SECONDS}
while time.monotonic() < end:
    for _ in range(50):
        tx.send(b"y" * 64)
    n += 50
    rx.setblocking(False)
    try:
        while True:
            rx.recv(2048)
    except BlockingIOError:
        pass
tx.close()
rx.close()
print(json.dumps({"sent": n}))`,
        dir,
      );
      const mine = () => agent.records.filter((r) => r.InfoMonitor === "socket" && r.ProcPID === pid && r.SockProtocol === "UDP");
      // the close of both sockets ends their last records: wait for the totals to settle
      await agent.waitFor(() => sum(mine(), (r) => r.SockTxPackets) === did.sent, `${did.sent} packets sent in the records`, 10_000);
      const sender = mine().filter((r) => r.SockTxPackets !== undefined);
      expect(sender.length).toBeGreaterThanOrEqual(2);
      expect(sum(sender, (r) => r.SockTxPackets)).toBe(did.sent!);
      expect(sum(sender, (r) => r.SockTxBytes)).toBe(did.sent! * 64);
      await agent.waitFor(() => sum(mine(), (r) => r.SockRxPackets) === did.sent, `${did.sent} packets received in the records`, 10_000);
      expect(sum(mine(), (r) => r.SockRxBytes)).toBe(did.sent! * 64);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});
