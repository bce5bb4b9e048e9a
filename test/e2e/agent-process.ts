/**
 * The compiled agent as a plain process, for the fault, hostile-input and privilege tests:
 * stdout to any descriptor (a FIFO nobody reads, a pipe that is closed), a command prefix
 * (setpriv, unshare), every stdout line kept whether or not it is JSON, the stop summary
 * parsed, and the process's memory and capabilities read from /proc.
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { constants } from "node:fs";
import type { Subprocess } from "bun";
import { type Json, pollFor, pumpText, spawnAgent } from "../helpers/agent.ts";
import { AGENT } from "../helpers/paths.ts";

export type { Json };

export interface AgentOptions {
  /** "pipe" (read and parsed here), "ignore", or a descriptor the agent writes to */
  readonly stdout?: "pipe" | "ignore" | number;
  /** a command the agent is started through (it must exec the agent, keeping the PID) */
  readonly prefix?: readonly string[];
  readonly env?: Record<string, string | undefined>;
  readonly agent?: string;
}

/** The stop line: records printed and every loss counter by its label. */
export interface Summary {
  readonly records: number;
  readonly lost: Record<string, number>;
}

export class AgentProcess {
  stderr = "";
  /** stdout lines (with "pipe") */
  readonly lines: string[] = [];
  /** the lines that parsed as JSON objects */
  readonly records: Json[] = [];
  /** the lines that did not */
  readonly invalid: string[] = [];
  private stdoutText = "";
  private readonly proc: Subprocess<"ignore", "pipe" | "ignore" | number, "pipe">;
  private readonly done: Promise<void>;
  readonly exited: Promise<number>;

  constructor(args: readonly string[], opts: AgentOptions = {}) {
    const stdout = opts.stdout ?? "pipe";
    this.proc = spawnAgent(
      () =>
        Bun.spawn([...(opts.prefix ?? []), opts.agent ?? AGENT, ...args], {
          stdin: "ignore",
          stdout,
          stderr: "pipe",
          env: opts.env ?? process.env,
        }) as Subprocess<"ignore", "pipe" | "ignore" | number, "pipe">,
    );
    const pumps = [
      pumpText(this.proc.stderr, (t) => {
        this.stderr += t;
      }),
    ];
    if (stdout === "pipe") pumps.push(pumpText(this.proc.stdout as ReadableStream<Uint8Array>, (t) => this.takeStdout(t)));
    this.done = Promise.all(pumps).then(() => {});
    this.exited = this.proc.exited;
  }

  /** Starts the agent and waits for its start-up line. */
  static async start(args: readonly string[], opts: AgentOptions = {}): Promise<AgentProcess> {
    const agent = new AgentProcess(args, opts);
    await agent.waitFor(() => agent.stderr.includes(" started in terminal mode"), "the start-up line", 15_000);
    return agent;
  }

  /** Runs the agent to its end (for start-up refusals): exit code and output. */
  static async run(args: readonly string[], opts: AgentOptions = {}): Promise<{ code: number; stderr: string; stdout: string }> {
    const agent = new AgentProcess(args, opts);
    const code = await agent.exited;
    await agent.done;
    return { code, stderr: agent.stderr, stdout: agent.lines.join("\n") + agent.stdoutText };
  }

  get pid(): number {
    return this.proc.pid;
  }

  private takeStdout(text: string): void {
    this.stdoutText += text;
    let at: number;
    while ((at = this.stdoutText.indexOf("\n")) >= 0) {
      const line = this.stdoutText.slice(0, at);
      this.stdoutText = this.stdoutText.slice(at + 1);
      this.lines.push(line);
      const parsed = parseObject(line);
      if (parsed) this.records.push(parsed);
      else this.invalid.push(line);
    }
  }

  waitFor<T>(find: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
    const tail = (): string => this.stderr.slice(-4000);
    return pollFor(
      () => {
        const found = find();
        if (found !== undefined && found !== false) return found;
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
          throw new Error(`the agent exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${what}; stderr:\n${tail()}`);
        }
        return undefined;
      },
      what,
      timeoutMs,
      tail,
    );
  }

  /** Whether the process still runs (and is not a zombie). */
  alive(): boolean {
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${this.pid}/status`, "utf8"));
    } catch {
      return false;
    }
  }

  /** Resident memory in MiB, from /proc/PID/status. */
  rssMiB(): number {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"))?.[1]) / 1024;
  }

  /** The effective capability set, as bit numbers. */
  effectiveCaps(): number[] {
    const hex = /^CapEff:\s+([0-9a-f]+)/m.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"))![1]!;
    const bits = BigInt(`0x${hex}`);
    const out: number[] = [];
    for (let i = 0; i < 64; i++) if ((bits >> BigInt(i)) & 1n) out.push(i);
    return out;
  }

  /** Records whose FilePath + File is path. */
  fileRecords(path: string): Json[] {
    return this.records.filter((r) => `${r.FilePath}${r.File}` === path);
  }

  /** Sends a signal and waits for the agent to exit; returns its exit code. */
  async stop(signal: "SIGINT" | "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<number> {
    this.proc.kill(signal);
    const code = await this.proc.exited;
    await this.done;
    return code;
  }

  /** The stop summary, once the agent has stopped. */
  summary(): Summary {
    const m =
      /^kflowd: stopped after (\d+) records; lost: (.*); paths cut \d+; deferred while the ring buffer was full \d+; degraded: [\w, -]+$/m.exec(
        this.stderr,
      );
    if (!m) throw new Error(`no stop summary; stderr:\n${this.stderr.slice(-4000)}`);
    const lost: Record<string, number> = {};
    for (const part of m[2]!.split(", ")) {
      const at = part.lastIndexOf(" ");
      lost[part.slice(0, at)] = Number(part.slice(at + 1));
    }
    return { records: Number(m[1]), lost };
  }

  /** stderr lines that are neither the banner, the summary nor one of the agent's own notices. */
  strayStderr(): string[] {
    return this.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("kflowd") && !l.startsWith("  "));
  }
}

function parseObject(line: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A FIFO as the agent's stdout: the agent gets the write end, the test the read end
 * (non-blocking), so the test decides when, and whether, anything is read.
 */
export class StdoutFifo {
  readonly readFd: number;
  private writeFd: number | undefined;
  private readonly decoder = new TextDecoder();
  private closed = false;
  text = "";

  constructor(readonly path: string) {
    const made = Bun.spawnSync(["mkfifo", "-m", "600", path]);
    if (made.exitCode !== 0) throw new Error(`mkfifo ${path}: ${made.stderr.toString()}`);
    this.readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.writeFd = openSync(path, constants.O_WRONLY);
  }

  /** The descriptor to give the agent; closed here once the agent has it. */
  get forAgent(): number {
    return this.writeFd!;
  }

  /** Closes this process's copy of the write end (after the agent started). */
  releaseWriteEnd(): void {
    if (this.writeFd !== undefined) closeSync(this.writeFd);
    this.writeFd = undefined;
  }

  /** Reads what is there without waiting; returns false once the writer is gone (EOF). */
  read(): boolean {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.readFd, buf);
      } catch (e) {
        if ((e as { code?: string }).code === "EAGAIN") return true;
        throw e;
      }
      if (n === 0) return false;
      this.text += this.decoder.decode(buf.subarray(0, n), { stream: true });
    }
  }

  /** Complete lines read so far. */
  lines(): string[] {
    const all = this.text.split("\n");
    all.pop();
    return all;
  }

  /** Closes both ends here (the reader goes away); again is a no-op. */
  close(): void {
    this.releaseWriteEnd();
    if (this.closed) return;
    this.closed = true;
    closeSync(this.readFd);
  }
}
