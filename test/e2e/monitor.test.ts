// -m: files or sockets alone; the other kind produces no record and its hooks stay off.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { RunningAgent } from "../helpers/agent.ts";
import { peer } from "../helpers/peer.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end -m tests");
const PORT = 17000 + (process.pid % 1000);

async function activity(dir: string, port: number): Promise<{ path: string; client: number }> {
  const path = `${dir}/m.txt`;
  writeFileSync(path, "x");
  const server = await peer("udp-server", "127.0.0.1", String(port), "4");
  const client = await peer("udp-client", "127.0.0.1", String(port), "4");
  expect(await client.exited).toBe(0);
  expect(await server.exited).toBe(0);
  return { path, client: client.pid };
}

describe.skipIf(skip)("-m", () => {
  for (const only of ["file", "socket"] as const) {
    test(`-m ${only}: only ${only} records, only ${only} hooks reported`, async () => {
      const agent = await RunningAgent.start(["-o", "json-min", "-m", only]);
      const { path, client } = await activity(mkdtempSync(`${tmpdir()}/kflowd-m-`), PORT + (only === "file" ? 0 : 1));
      if (only === "file") await agent.waitForFile(path);
      else await agent.waitFor(() => agent.records.find((r) => r.ProcPID === client && r.InfoMonitor === "socket"), "the socket record");
      expect(await agent.stop()).toBe(0);
      const monitors = new Set(agent.records.map((r) => r.InfoMonitor));
      expect([...monitors]).toEqual([only === "file" ? "filesystem" : "socket"]);
      const features = [...agent.stderr.matchAll(/^ {2}hooks for ([\w-]+): /gm)].map((m) => m[1]);
      // io_uring requests are files and sockets: that group serves either
      expect(features.filter((f) => f !== "io_uring")).toEqual(
        only === "file" ? ["file", "file-inode", "file-32bit"] : ["socket", "socket-existing"],
      );
    });
  }
});
