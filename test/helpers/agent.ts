/** Runs the compiled agent and collects what it prints, for end-to-end tests. */
import type { Subprocess } from "bun";
import { AGENT } from "./paths.ts";

export type Json = Record<string, unknown>;

/** agents not stopped yet: a test that failed or timed out must not leave one running */
const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

/** Bun.spawn for an agent: killed when the test process exits, if it still runs then. */
export function spawnAgent<T extends Subprocess>(spawn: () => T): T {
  const proc = spawn();
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  return proc;
}

/** Hands each decoded piece of text of stream to take until it ends. */
export async function pumpText(stream: ReadableStream<Uint8Array>, take: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) take(decoder.decode(chunk, { stream: true }));
}

/** Polls find until it returns something; throws after timeoutMs naming what and the agent's stderr. */
export async function pollFor<T>(find: () => T | undefined | false, what: string, timeoutMs: number, stderr: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; agent stderr:\n${stderr()}`);
    await Bun.sleep(20);
  }
}

export class RunningAgent {
  readonly records: Json[] = [];
  /** with -o table: the lines printed */
  readonly lines: string[] = [];
  stderr = "";
  private stdoutText = "";
  private readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  private readonly done: Promise<void>;

  /** everything printed to stdout, as text */
  stdout = "";

  private constructor(
    args: string[],
    private readonly format: "json-min" | "json" | "table",
    env: Record<string, string>,
    /** records end with "\n\x1e\n" (-o json, or --rs) */
    private readonly rs = format === "json",
  ) {
    this.proc = spawnAgent(() =>
      Bun.spawn([AGENT, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } }),
    );
    this.done = Promise.all([
      pumpText(this.proc.stdout, (t) => this.takeStdout(t)),
      pumpText(this.proc.stderr, (t) => {
        this.stderr += t;
      }),
    ]).then(() => {});
  }

  /** Starts the agent (env added to the test's) and waits until it reports that it is attached. */
  static async start(args: string[] = ["-o", "json-min"], env: Record<string, string> = {}): Promise<RunningAgent> {
    const format = args.includes("json-min") ? "json-min" : args.includes("table") ? "table" : "json";
    const agent = new RunningAgent(args, format, env, format === "json" || args.includes("--rs"));
    await agent.waitFor(() => agent.stderr.includes(" started in terminal mode"), "the start-up line", 10_000);
    return agent;
  }

  get pid(): number {
    return this.proc.pid;
  }

  private takeStdout(text: string): void {
    this.stdout += text;
    this.stdoutText += text;
    // json-min: one object per line; json and --rs: objects separated by "\n\x1e\n"
    const sep = this.rs ? "\n\x1e\n" : "\n";
    let at: number;
    while ((at = this.stdoutText.indexOf(sep)) >= 0) {
      const chunk = this.stdoutText.slice(0, at);
      this.stdoutText = this.stdoutText.slice(at + sep.length);
      if (this.format === "table") this.lines.push(chunk);
      else if (chunk.trim() !== "") this.records.push(JSON.parse(chunk) as Json);
    }
  }

  /** Text printed to stdout that did not (yet) end a record. */
  get pendingStdout(): string {
    return this.stdoutText;
  }

  waitFor<T>(find: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    return pollFor(find, what, timeoutMs, () => this.stderr);
  }

  /** Records whose FilePath + File is path. */
  fileRecords(path: string): Json[] {
    return this.records.filter((r) => `${r.FilePath}${r.File}` === path);
  }

  async waitForFile(path: string, count = 1): Promise<Json[]> {
    return this.waitFor(() => {
      const found = this.fileRecords(path);
      return found.length >= count ? found : undefined;
    }, `${count} record(s) for ${path}`);
  }

  /** Sends a signal and waits for the agent to exit; returns its exit code. */
  async stop(signal: "SIGINT" | "SIGTERM" = "SIGTERM"): Promise<number> {
    this.proc.kill(signal);
    const code = await this.proc.exited;
    await this.done;
    return code;
  }
}
