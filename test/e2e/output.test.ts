// The stdout stream: json-min is NDJSON (one record per line, nothing else); with --rs
// each record is followed by a line holding an ASCII RS, kflowd's stream.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end output stream tests");

describe.skipIf(skip)("stdout stream", () => {
  for (const rs of [false, true]) {
    test(`-o json-min${rs ? " --rs" : ""}: ${rs ? "each record, then a line holding RS" : "one record per line, NDJSON"}`, async () => {
      const dir = mkdtempSync(`${tmpdir()}/kflowd-out-`);
      const agent = await RunningAgent.start(["-o", "json-min", "-m", "file", ...(rs ? ["--rs"] : [])]);
      try {
        for (let i = 0; i < 3; i++) writeFileSync(`${dir}/f${i}.txt`, "x");
        await agent.waitForFile(`${dir}/f2.txt`);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
      const lines = agent.stdout.split("\n");
      expect(lines.at(-1)).toBe("");
      lines.pop();
      if (rs) {
        expect(lines.length % 2).toBe(0);
        for (let i = 0; i < lines.length; i += 2) {
          expect(JSON.parse(lines[i]!)).toHaveProperty("InfoSequenceNumber", i / 2 + 1);
          expect(lines[i + 1]).toBe("\x1e");
        }
      } else {
        for (const [i, line] of lines.entries()) expect(JSON.parse(line)).toHaveProperty("InfoSequenceNumber", i + 1);
        expect(agent.stdout).not.toContain("\x1e");
      }
      expect(agent.records.length).toBeGreaterThanOrEqual(3);
    });
  }
});
