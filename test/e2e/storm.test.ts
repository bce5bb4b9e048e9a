// An event storm while the agent cannot drain (stopped with SIGSTOP): the ring buffer
// fills, the kernel keeps aggregating what it could not hand over, and once the agent runs
// again every event is in some record: exact totals, nothing lost, nothing counted twice.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(60_000);
const skip = skipWithoutKernel("end-to-end storm tests");

/** 20000 open/write/close of one file: a record each, about 2.5 times what the ring holds. */
const ROUNDS = 20_000;

describe.skipIf(skip)("storm", () => {
  test("a full ring buffer defers records instead of losing them; totals stay exact", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-storm-${"d".repeat(200)}-`);
    const path = `${dir}/stormed.txt`;
    const agent = await RunningAgent.start(["-o", "json-min", "-m", "file"]);
    process.kill(agent.pid, "SIGSTOP");
    try {
      const storm = Bun.spawn(["python3", "-c", `
import sys
for _ in range(${ROUNDS}):
    with open(sys.argv[1], "a") as f:
        f.write("x")
`, path]);
      expect(await storm.exited).toBe(0);
    } finally {
      process.kill(agent.pid, "SIGCONT");
    }
    const total = (event: string) =>
      agent.fileRecords(path).reduce((n, r) => n + ((r.FileEvents as Record<string, number>)[event] ?? 0), 0);
    await agent.waitFor(() => total("CLOSE_WRITE") >= ROUNDS, `${ROUNDS} closes of ${path}`, 15_000);
    expect(await agent.stop()).toBe(0);
    expect(total("OPEN")).toBe(ROUNDS);
    expect(total("MODIFY")).toBe(ROUNDS);
    expect(total("CLOSE_WRITE")).toBe(ROUNDS);
    // the ring was too small: some records hold several rounds, and the summary says so
    expect(agent.fileRecords(path).length).toBeLessThan(ROUNDS);
    const deferred = Number(/deferred while the ring buffer was full (\d+)/.exec(agent.stderr)?.[1]);
    expect(deferred).toBeGreaterThan(0);
    expect(agent.stderr).toMatch(/lost: ring full 0, file map full 0, /);
    expect(agent.fileRecords(path).at(-1)).toMatchObject({ FileSize: ROUNDS });
  });
});
