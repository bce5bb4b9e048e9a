// When records are printed: -e N cuts an aggregation after N events; -t IDLE,ACTIVE
// prints files that stay open.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end aggregation tests");

describe.skipIf(skip)("aggregation limits", () => {
  test("-e 2: a record every two events, the close in a record of its own", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-agg-`);
    const agent = await RunningAgent.start(["-o", "json-min", "-e", "2"]);
    try {
      const path = `${dir}/split.txt`;
      const fd = openSync(path, "w");
      writeSync(fd, "a");
      writeSync(fd, "b");
      closeSync(fd);
      const records = await agent.waitForFile(path, 3);
      expect(records.map((r) => r.FileEvents)).toEqual([{ CREATE: 1, OPEN: 1 }, { MODIFY: 2 }, { CLOSE_WRITE: 1 }]);
      expect(records.map((r) => r.FileSize)).toEqual([0, 2, 2]);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  test("-e 1: one event per record; an open that creates and a rename are two, each named", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-agg-`);
    const agent = await RunningAgent.start(["-o", "json-min", "-e", "1"]);
    try {
      const path = `${dir}/one.txt`;
      const fd = openSync(path, "w");
      writeSync(fd, "abc");
      writeSync(fd, "de");
      closeSync(fd);
      const records = await agent.waitForFile(path, 5);
      expect(records.map((r) => r.FileEvents)).toEqual([{ CREATE: 1 }, { OPEN: 1 }, { MODIFY: 1 }, { MODIFY: 1 }, { CLOSE_WRITE: 1 }]);
      expect(records.map((r) => r.FileEventCount)).toEqual([1, 1, 1, 1, 1]);
      // each write's change is measured from the record before it
      expect(records.map((r) => r.FileSizeChange)).toEqual([undefined, undefined, 3, 2, undefined]);
      const mv = Bun.spawn(["mv", "one.txt", "two.txt"], { cwd: dir });
      expect(await mv.exited).toBe(0);
      const [from] = await agent.waitFor(() => {
        const r = agent.fileRecords(path).filter((r) => r.ProcPID === mv.pid);
        return r.length ? r : undefined;
      }, "the MOVED_FROM record");
      expect(from).toMatchObject({ File: "one.txt", FileEvents: { MOVED_FROM: 1 } });
      expect(from).not.toHaveProperty("FileOrigin");
      const [to] = await agent.waitForFile(`${dir}/two.txt`);
      expect(to).toMatchObject({ ProcPID: mv.pid, File: "two.txt", FileOrigin: "one.txt", FileEvents: { MOVED_TO: 1 } });
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  test("-t 1,60: a file left open and idle is printed, and later events start a new record", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-agg-`);
    const agent = await RunningAgent.start(["-o", "json-min", "-t", "1,60"]);
    try {
      const path = `${dir}/idle.log`;
      const fd = openSync(path, "w");
      writeSync(fd, "first\n");
      const [idle] = await agent.waitForFile(path);
      expect(idle).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 1 }, FileSize: 6 });
      writeSync(fd, "second\n");
      closeSync(fd);
      const [, rest] = await agent.waitForFile(path, 2);
      expect(rest).toMatchObject({ FileEvents: { MODIFY: 1, CLOSE_WRITE: 1 }, FileSize: 13 });
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  test("-t 60,2: a file written without pause is printed after the active timeout", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-agg-`);
    const agent = await RunningAgent.start(["-o", "json-min", "-t", "60,2"]);
    try {
      const path = `${dir}/busy.log`;
      const fd = openSync(path, "w");
      const started = Date.now();
      while (agent.fileRecords(path).length === 0 && Date.now() - started < 10_000) {
        writeSync(fd, "tick\n");
        await Bun.sleep(100);
      }
      closeSync(fd);
      const [active] = agent.fileRecords(path);
      expect(active).toBeDefined();
      expect(active!.FileEventsDuration as number).toBeGreaterThanOrEqual(1.5);
      expect((active!.FileEvents as Record<string, number>).MODIFY).toBeGreaterThan(5);
      expect(active!.FileEvents).not.toHaveProperty("CLOSE_WRITE");
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});
