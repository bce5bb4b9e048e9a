// --output-file on the compiled agent: rotation under load (every line whole, every record
// once across the files, in order), and SIGKILL in the middle of writing (no torn line
// once the next agent has opened the file). Each test stops the agents it started.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { AgentProcess, type Json } from "./agent-process.ts";

setDefaultTimeout(120_000);
const skip = skipWithoutKernel("end-to-end output file tests");
const dir = skip ? "" : mkdtempSync(`${tmpdir()}/kflowd-file-`);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** ~1.3 KB records: a long directory and file name */
const LONG = "n".repeat(150);

/** Opens and closes `count` files: one file record each; yields now and then. */
async function churn(churnDir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    closeSync(openSync(`${churnDir}/${LONG}${i % 64}`, "w"));
    if (i % 200 === 199) await Bun.sleep(1);
  }
}

/** PATH and its rotated files, oldest first (PATH.N ... PATH.1, PATH). */
function filesOldestFirst(path: string): string[] {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const n = readdirSync(path.slice(0, path.lastIndexOf("/"))).filter((f) => new RegExp(`^${base}\\.\\d+$`).test(f)).length;
  return [...Array.from({ length: n }, (_, i) => `${path}.${n - i}`), path];
}

/** Every line of a file parsed; a line that is not a whole JSON object fails the test. */
function records(file: string): Json[] {
  const text = readFileSync(file, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text
    .split("\n")
    .slice(0, -1)
    .map((l) => JSON.parse(l) as Json);
}

function reap(agent: AgentProcess | undefined): void {
  if (agent?.alive()) process.kill(agent.pid, "SIGKILL");
}

describe.skipIf(skip)("output file", () => {
  test("rotation under load: every line whole, each record exactly once across the files, in order", async () => {
    const churnDir = `${dir}/rot-churn/${"d".repeat(100)}`;
    mkdirSync(churnDir, { recursive: true });
    const path = `${dir}/rot/records.json`;
    mkdirSync(`${dir}/rot`);
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(
        ["-q", "-m", "file", "--output-file", path, "--output-file-size", "1", "--output-file-keep", "1000"],
        { stdout: "ignore" },
      );
      await churn(churnDir, 20_000);
      expect(await agent.stop()).toBe(0);
      const { records: printed, lost } = agent.summary();
      expect(lost["output file dropped"]).toBe(0);
      const files = filesOldestFirst(path);
      // ~26 MB in files of 1 MiB
      expect(files.length).toBeGreaterThan(15);
      const seqs = files.flatMap((f) => records(f).map((r) => r.InfoSequenceNumber as number));
      expect(seqs.length).toBe(printed);
      expect(seqs).toEqual(Array.from({ length: printed }, (_, i) => i + 1));
      // batches are split at lines: no file passes the size
      for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(1 << 20);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
    }
  });

  test("SIGKILL while writing: the next agent removes an incomplete last line, and every line is whole", async () => {
    const churnDir = `${dir}/kill-churn/${"d".repeat(100)}`;
    mkdirSync(churnDir, { recursive: true });
    const path = `${dir}/kill/records.json`;
    mkdirSync(`${dir}/kill`);
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(["-q", "-m", "file", "--output-file", path], { stdout: "ignore" });
      const busy = churn(churnDir, 20_000);
      await agent.waitFor(() => existsSync(path) && statSync(path).size > 4 << 20, "4 MiB in the file", 30_000);
      await agent.stop("SIGKILL");
      await busy;
      const text = readFileSync(path, "utf8");
      const torn = !text.endsWith("\n");
      agent = await AgentProcess.start(["-q", "-m", "file", "--output-file", path], { stdout: "ignore" });
      writeFileOnce(`${churnDir}/after-restart`);
      await agent.waitFor(() => readFileSync(path, "utf8").includes('"File": "after-restart"'), "a record of the new agent");
      expect(await agent.stop()).toBe(0);
      const all = records(path);
      expect(all.length).toBeGreaterThan(1000);
      // the notice comes exactly when the killed agent left part of a line
      expect(agent.stderr.includes("removed an incomplete last line")).toBe(torn);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
    }
  });
});

function writeFileOnce(path: string): void {
  closeSync(openSync(path, "w"));
}
