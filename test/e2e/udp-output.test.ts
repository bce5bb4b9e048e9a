// -u: every record as one datagram to each collector (IPv4 and IPv6), -q: nothing on
// stdout; the agent's own sending socket is never itself reported.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end UDP output tests");

async function collector(hostname: string): Promise<{ port: number; texts: string[]; close(): void }> {
  const texts: string[] = [];
  const s = await Bun.udpSocket({
    hostname,
    socket: {
      data(_sock, buf) {
        texts.push(new TextDecoder().decode(buf));
      },
    },
  });
  return { port: s.port, texts, close: () => s.close() };
}

describe.skipIf(skip)("UDP collectors", () => {
  for (const format of ["json-min", "json"]) {
    test(`-o ${format} -q: records reach an IPv4 and an IPv6 collector, stdout stays empty`, async () => {
      const v4 = await collector("127.0.0.1");
      const v6 = await collector("::1");
      const dir = mkdtempSync(`${tmpdir()}/kflowd-udp-`);
      const agent = await RunningAgent.start(["-o", format, "-q", "-u", `127.0.0.1:${v4.port},[::1]:${v6.port}`]);
      const path = `${dir}/sent.txt`;
      try {
        writeFileSync(path, "udp");
        const parse = (texts: string[]) => texts.map((t) => JSON.parse(t) as Json);
        const mine = (texts: string[]) => parse(texts).find((r) => `${r.FilePath}${r.File}` === path);
        await agent.waitFor(() => mine(v4.texts) && mine(v6.texts), "the record at both collectors");
        expect(mine(v4.texts)).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 }, FileSize: 3 });
        expect(mine(v6.texts)).toEqual(mine(v4.texts));
        // one datagram is exactly one record, without kflowd's stdout separator
        expect(v4.texts.every((t) => !t.includes("\x1e"))).toBe(true);
        if (format === "json") expect(v4.texts[0]).toContain('\n  "InfoSequenceNumber"');
      } finally {
        expect(await agent.stop()).toBe(0);
        v4.close();
        v6.close();
      }
      expect(agent.records).toEqual([]);
      expect(agent.pendingStdout).toBe("");
      const all = [...v4.texts, ...v6.texts].map((t) => JSON.parse(t) as Json);
      expect(all.filter((r) => r.ProcPID === agent.pid)).toEqual([]);
      // nor, under any owner, the socket that sent them
      const ports = [v4.port, v6.port];
      expect(all.filter((r) => r.InfoMonitor === "socket" && ports.includes(r.SockRemotePort as number))).toEqual([]);
      expect(agent.stderr).toMatch(/UDP sends failed 0/);
    });
  }
});
