/**
 * Starts and stops the compiled agent for the benchmarks. Its stdout (json-min) goes
 * through a FIFO to the C line counter, so reading it never costs the bench process
 * anything; stderr is read for the start-up line and the loss summary printed at stop.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { cProgram, cpuSeconds, type Memory, memory, run, WORK } from "./sys.ts";

const DIST = resolve(import.meta.dir, "../../dist/kflowd");
export const AGENT = join(WORK, "kflowd");

/**
 * Copies dist/kflowd to WORK/kflowd (others may rebuild dist/ meanwhile: we bench one
 * fixed file per invocation). Called once per bench invocation.
 */
export function prepareAgent(): string {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: build it first (node_modules/.bin/bun scripts/build.ts)`);
  mkdirSync(WORK, { recursive: true });
  const tmp = `${AGENT}.${process.pid}`;
  const built = statSync(DIST);
  copyFileSync(DIST, tmp);
  // keep the build's time: the report names the binary by it
  utimesSync(tmp, built.atime, built.mtime);
  renameSync(tmp, AGENT);
  return AGENT;
}

/** What the agent said when it stopped, and what the counter saw on its stdout. */
export interface AgentResult {
  readonly code: number;
  /** lines (records) printed */
  readonly lines: number;
  /** lines that contained every needle */
  readonly matched: number;
  readonly bytes: number;
  /** sum of every loss counter of the stop summary ("lost: ring full N, ...") */
  readonly lost: number;
  /** the loss clause as printed */
  readonly lostText: string;
  readonly stderr: string;
}

export interface AgentOptions {
  /** extra arguments after -o json-min */
  readonly args?: readonly string[];
  /** a record counts as matched when it contains all of these strings */
  readonly needles?: readonly string[];
  /** how long to wait for the start-up line */
  readonly timeoutMs?: number;
  /** environment added to the agent's */
  readonly env?: Readonly<Record<string, string>>;
  /** another kflowd executable to run instead of this invocation's copy of dist/kflowd */
  readonly agent?: string;
}

let serial = 0;

/** A running agent. */
export class Agent {
  /** ms from spawn to the " started in terminal mode" line */
  readonly startMs: number;
  private constructor(
    private readonly proc: Subprocess<"ignore", number, "pipe">,
    private readonly counter: Subprocess<"ignore", "pipe", "pipe">,
    private readonly stderrText: () => string,
    private readonly stderrDone: Promise<void>,
    private readonly fifo: string,
    startMs: number,
  ) {
    this.startMs = startMs;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** CPU seconds (user + system, all threads) used so far. */
  cpu(): number {
    return cpuSeconds(this.pid);
  }

  memory(): Memory {
    return memory(this.pid);
  }

  static async start(opts: AgentOptions = {}): Promise<Agent> {
    const linecount = await cProgram("linecount");
    const fifo = join(WORK, `out-${process.pid}-${serial++}.fifo`);
    rmSync(fifo, { force: true });
    await run(["mkfifo", "-m", "600", fifo]);
    const counter = Bun.spawn([linecount, fifo, ...(opts.needles ?? [])], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    // read-write: never blocks on a FIFO; closed right after the agent inherited it
    const fd = openSync(fifo, "r+");
    const t0 = performance.now();
    const proc = Bun.spawn([opts.agent ?? AGENT, "-o", "json-min", ...(opts.args ?? [])], {
      stdin: "ignore",
      stdout: fd,
      stderr: "pipe",
      env: { ...process.env, ...opts.env },
    });
    closeSync(fd);
    let text = "";
    let startedAt = 0;
    const decoder = new TextDecoder();
    const stderrDone = (async (): Promise<void> => {
      for await (const chunk of proc.stderr) {
        text += decoder.decode(chunk, { stream: true });
        if (!startedAt && text.includes(" started in terminal mode")) startedAt = performance.now();
      }
    })();
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (!startedAt) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill("SIGKILL");
        counter.kill("SIGTERM");
        throw new Error(`the agent did not start (exit ${proc.exitCode}); stderr:\n${text}`);
      }
      await Bun.sleep(2);
    }
    return new Agent(proc, counter, () => text, stderrDone, fifo, startedAt - t0);
  }

  /** SIGTERM (the agent flushes what is pending), then the counts and the loss summary. */
  async stop(): Promise<AgentResult> {
    this.proc.kill("SIGTERM");
    const code = await this.proc.exited;
    await this.stderrDone;
    const [out] = await Promise.all([new Response(this.counter.stdout).text(), this.counter.exited]);
    rmSync(this.fifo, { force: true });
    const [lines = 0, matched = 0, bytes = 0] = out.trim().split(" ").map(Number);
    const stderr = this.stderrText();
    const { lost, text } = parseLost(stderr);
    return { code, lines, matched, bytes, lost, lostText: text, stderr };
  }
}

/**
 * The loss clause of the stop line ("lost: ring full 0, file map full 0, ..., malformed
 * 0;") and the sum of its counters that are lost records or events. Counters of work
 * not done that loses no record (checksums not computed) and of the UDP sink are left
 * out of the sum; "paths cut" follows the clause and is not a loss either. NaN when the
 * line is missing.
 */
export function parseLost(stderr: string): { lost: number; text: string } {
  const m = /lost: ([^;\n]*)/.exec(stderr);
  if (!m) return { lost: Number.NaN, text: "(no stop summary)" };
  const text = m[1]!;
  let lost = 0;
  for (const part of text.split(", ")) {
    if (/checksum|UDP/i.test(part)) continue;
    for (const n of part.matchAll(/\d+/g)) lost += Number(n[0]);
  }
  return { lost, text };
}
