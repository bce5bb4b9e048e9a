/**
 * The agent's outputs, made from the configuration in one place: stdout, the UDP
 * collectors (-u) and the line outputs (--syslog, --output-file), with what the rest of
 * the agent asks of them all at once: flush after a drain, close at stop, their state for
 * the metrics, their losses for the summary, and whether any is left to write to.
 */
import type { Config } from "../config.ts";
import { fileOutput } from "./file.ts";
import type { LineOutput, OutputStatus } from "./line-output.ts";
import { type Sink, stdoutSink } from "./stdout.ts";
import { syslogOutput } from "./syslog.ts";
import { type UdpSink, udpSink } from "./udp.ts";

/** at stop, how long the outputs are given to write what is left (all at once) */
const CLOSE_WAIT_MS = 1000;

export interface Outputs {
  readonly stdout: Sink;
  /** records are shown on stdout (not with -q, not in daemon mode) */
  readonly toStdout: boolean;
  readonly collectors: UdpSink | undefined;
  readonly lines: readonly LineOutput[];
  /** The end of a drained batch: every output hands what it took to its writer. */
  flush(): void;
  /**
   * Whether an output is so far behind (stdout's reader, the file's writes) that records
   * should wait in the kernel for now.
   */
  holdBack(): boolean;
  /** Grows while stdout's reader, though behind, keeps taking output. */
  progress(): number;
  /** Looks for a stdout reader that went away while nothing was written. */
  check(): void;
  /** Stdout's reader is gone and nothing else takes records: time for the agent to end. */
  allGone(): boolean;
  status(): OutputStatus[];
  /** Their part of the stop summary's losses. */
  losses(): { udpFailed: number; stdoutDropped: number; syslogDropped: number; fileDropped: number };
  /** Writes what is left, each output waiting at most a second, all at the same time. */
  close(): Promise<void>;
}

export interface OutputContext {
  /** the detached agent of -d: no stdout */
  readonly daemon: boolean;
  /** the host's name, for the syslog header */
  readonly hostName: string;
}

/**
 * Opens every output the configuration names. A file that cannot be opened or a TLS file
 * that cannot be read throws a SetupError naming the option; the relay is connected to in
 * the background.
 */
export async function openOutputs(config: Config, ctx: OutputContext): Promise<Outputs> {
  const toStdout = !config.quiet && !ctx.daemon;
  const collectors = config.collectors.length ? await udpSink(config.collectors) : undefined;
  // the file first: the relay is connected to at once, and nothing is left open if the file fails
  const file = config.outputFile && (await fileOutput(config.outputFile));
  const syslog = config.syslog && (await syslogOutput(config.syslog, { hostName: ctx.hostName, procId: process.pid }));
  const lines = [syslog, file].filter((o): o is LineOutput => o !== undefined);
  const alone = toStdout && !collectors && lines.length === 0;
  const stdout = stdoutSink(undefined, { alone });
  const collectorsTarget = config.collectors.map((c) => (c.family === 6 ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`)).join(",");

  return {
    stdout,
    toStdout,
    collectors,
    lines,
    flush(): void {
      stdout.flush();
      for (const o of lines) o.flush();
    },
    holdBack(): boolean {
      if (toStdout && stdout.holdBack()) return true;
      for (const o of lines) if (o.holdBack?.()) return true;
      return false;
    },
    progress(): number {
      return stdout.progress;
    },
    check(): void {
      if (toStdout) stdout.checkReader();
    },
    allGone(): boolean {
      return alone && stdout.failure !== undefined;
    },
    status(): OutputStatus[] {
      const out: OutputStatus[] = [];
      if (toStdout) {
        out.push({
          output: "stdout",
          target: "-",
          up: stdout.failure === undefined,
          records: stdout.records,
          dropped: stdout.dropped,
          queuedBytes: stdout.queuedBytes,
        });
      }
      if (collectors) {
        // a datagram is one record to one collector
        out.push({
          output: "udp",
          target: collectorsTarget,
          up: true,
          records: collectors.sent,
          dropped: collectors.failed,
          queuedBytes: 0,
        });
      }
      for (const o of lines) out.push(o.status());
      return out;
    },
    losses() {
      return {
        udpFailed: collectors?.failed ?? 0,
        stdoutDropped: stdout.dropped,
        syslogDropped: syslog?.status().dropped ?? 0,
        fileDropped: file?.status().dropped ?? 0,
      };
    },
    async close(): Promise<void> {
      await Promise.all([stdout.close(CLOSE_WAIT_MS), ...lines.map((o) => o.close(CLOSE_WAIT_MS))]);
      collectors?.close();
    },
  };
}
