/**
 * What the agent tells its operator on stderr: the start-up banner (requirements, the
 * hooks chosen per feature, the configuration), the periodic statistics of -V and the
 * summary at stop. Every way a record can be lost is named in LOSSES, once.
 */
import type { Config } from "./config.ts";
import type { FeatureTier } from "./kernel.ts";
import { appPortsText } from "./app-ports.ts";

/** Counters of everything the agent did not print as it should, by reason. */
export interface Losses {
  readonly ringFull: number;
  readonly fileMapFull: number;
  readonly sockMapFull: number;
  readonly pathOpsLost: number;
  /** events dropped because every per-CPU scratch slot was held by preempted programs */
  readonly scratchBusy: number;
  readonly exitNoticesLost: number;
  readonly appLost: number;
  readonly appUnclaimed: number;
  readonly uncopied: number;
  readonly malformed: number;
  readonly udpFailed: number;
  readonly stdoutDropped: number;
  readonly syslogDropped: number;
  readonly fileDropped: number;
  readonly checksumsMissing: number;
  /** records whose cgroup could not be named: printed without ProcCgroup and ProcContainerId */
  readonly cgroupsUnresolved: number;
  /** processes that set up an io_uring while its requests were not monitored: their ring's activity is unseen */
  readonly uringUnseen: number;
  /** events the kernel gave none of the agent's programs (the program was still running on that CPU) and no rescuer took */
  readonly runsSkipped: number;
}

/** Every loss counter with its label in the stop summary (the metrics use the key). */
export const LOSSES: readonly (readonly [keyof Losses, string])[] = [
  ["ringFull", "ring full"],
  ["fileMapFull", "file map full"],
  ["sockMapFull", "socket map full"],
  ["pathOpsLost", "path operations"],
  ["scratchBusy", "scratch busy"],
  ["exitNoticesLost", "exit notices"],
  ["appLost", "app messages"],
  ["appUnclaimed", "app messages unclaimed"],
  ["uncopied", "uncopied"],
  ["malformed", "malformed"],
  ["udpFailed", "UDP sends failed"],
  ["stdoutDropped", "stdout dropped"],
  ["syslogDropped", "syslog dropped"],
  ["fileDropped", "output file dropped"],
  ["checksumsMissing", "checksums not computed"],
  ["cgroupsUnresolved", "cgroups unresolved"],
  ["uringUnseen", "io_uring processes unseen"],
  ["runsSkipped", "program runs skipped by the kernel"],
];

function lossText(now: Losses, before?: Losses): string {
  return LOSSES.map(([key, label]) => `${label} ${now[key] - (before?.[key] ?? 0)}`).join(", ");
}

/** What is worth knowing at stop besides losses. */
export interface StopNotes {
  /** paths cut at the top (longer or deeper than the kernel walk allows) */
  readonly pathsCut: number;
  /** records the kernel kept aggregating because the ring buffer was full */
  readonly deferred: number;
  /** calls of x32 programs, which are not decoded (said only when there were any) */
  readonly x32Calls?: number;
  /** descriptors close_range() closed past the kernel side's walk, reported at exit */
  readonly closeRangeCut?: number;
  /** the programs whose runs the kernel skipped, and how many (said only when there were any) */
  readonly skippedRuns?: ReadonlyMap<string, number>;
  /** of those, the syscall events their rescuers took */
  readonly rescued?: number;
}

/** The features that are degraded (the banner says how), or "none". */
function degradedText(degraded: readonly string[]): string {
  return `degraded: ${degraded.length ? degraded.join(", ") : "none"}`;
}

/** The line printed at stop. */
export function stopSummary(records: number, losses: Losses, notes: StopNotes, degraded: readonly string[]): string {
  return (
    `kflowd: stopped after ${records} records; lost: ${lossText(losses)}; paths cut ${notes.pathsCut}; ` +
    `deferred while the ring buffer was full ${notes.deferred}` +
    (notes.x32Calls ? `; x32 calls not decoded ${notes.x32Calls}` : "") +
    (notes.closeRangeCut ? `; close_range() calls past 4096 descriptors ${notes.closeRangeCut}` : "") +
    (notes.skippedRuns?.size || notes.rescued
      ? `; runs skipped in ${[...(notes.skippedRuns ?? [])].map(([p, n]) => `${p} ${n}`).join(", ")} (rescued ${notes.rescued ?? 0})`
      : "") +
    `; ${degradedText(degraded)}\n`
  );
}

/** -V: one statistics line per interval, as rates and increments since the last one. */
export class PeriodicStats {
  private lastRecords = 0;
  private lastLosses: Losses | undefined;
  private lastMs: number;

  constructor(
    nowMs: number,
    private readonly degraded: readonly string[],
  ) {
    this.lastMs = nowMs;
  }

  line(records: number, losses: Losses, nowMs: number): string {
    const seconds = Math.max((nowMs - this.lastMs) / 1000, 0.001);
    const rate = (records - this.lastRecords) / seconds;
    const text =
      `kflowd: stats: ${records - this.lastRecords} records in ${seconds.toFixed(1)} s ` +
      `(${rate.toFixed(1)}/s, ${records} in all); lost since last: ${lossText(losses, this.lastLosses)}; ` +
      `${degradedText(this.degraded)}\n`;
    this.lastRecords = records;
    this.lastLosses = losses;
    this.lastMs = nowMs;
    return text;
  }
}

/** What the start-up banner reports besides the configuration. */
export interface StartFacts {
  readonly version: string;
  readonly pid: number;
  readonly mode: "terminal" | "daemon";
  readonly kernelRelease: string;
  readonly libbpf: string;
  readonly jit: string;
  readonly features: readonly FeatureTier[];
  readonly fileEntries: number;
  readonly sockEntries: number;
  readonly ringBytes: number;
  /** -v: executables whose package is known */
  readonly packagedFiles?: number;
  /** the start-up self-test's line, unless it was turned off */
  readonly selfTest?: string;
}

/** The features the banner reports degraded, and those whose self-test check failed. */
export function degradedFeatures(features: readonly FeatureTier[], selfTestFailed: readonly string[]): string[] {
  return [...new Set([...features.filter((t) => t.degraded).map((t) => t.feature), ...selfTestFailed])];
}

/** The programs serving a feature, and what is degraded and why. */
function hooksText(t: FeatureTier): string {
  const programs = t.programs.join(", ");
  if (!t.degraded) return programs;
  return programs ? `${programs}; degraded: ${t.degraded}` : `degraded: ${t.degraded}`;
}

/**
 * The banner: its first line says the agent started (scripts wait for it); then the
 * requirements, the hooks chosen per feature (and why one is degraded) and the
 * configuration.
 */
export function startBanner(f: StartFacts, config: Config): string {
  const out = [
    `kflowd ${f.version} with PID ${f.pid} started in ${f.mode} mode`,
    `  requirements: Linux ${f.kernelRelease} (5.10 or newer needed), BTF at /sys/kernel/btf/vmlinux, ` +
      `libbpf ${f.libbpf}, BPF JIT ${f.jit}${f.jit === "off" ? " (programs run interpreted, slower)" : ""}`,
    ...f.features.map((t) => `  hooks for ${t.feature}: ${t.tier} (${hooksText(t)})`),
    ...(f.selfTest ? [`  ${f.selfTest}`] : []),
    `  limits: ${f.fileEntries} open file records, ${f.sockEntries} sockets, ring buffer ${f.ringBytes >> 20} MiB`,
    `  file records: printed when released${config.eventsMax ? `, after ${config.eventsMax} events` : ""}, ` +
      `after ${config.timeouts.idleSec} s idle or ${config.timeouts.activeSec} s active; socket records likewise or when closed`,
    `  applications: ${appPortsText(config.apps)}; ${config.appBytes} bytes and up to ${config.appMessages} messages per record`,
    `  versions: ${config.versions ? `on (${f.packagedFiles ?? 0} packaged executables known)` : "off"}, ` +
      `checksums: ${config.checksums ? "on (MD5, SHA256)" : "off"}` +
      (config.debugProcess ? `, debug records of '${config.debugProcess}' on stderr` : "") +
      (config.pluginPath !== undefined ? `, -P ${config.pluginPath} ignored (plugins are built in)` : ""),
    `  output: ${f.mode === "daemon" || config.quiet ? "none on stdout" : config.output}` +
      config.collectors.map((c) => `, UDP ${c.family === 6 ? `[${c.host}]` : c.host}:${c.port}`).join("") +
      (config.syslog ? `, syslog ${config.syslog.url} (spool ${Math.floor(config.syslog.spoolBytes / 2 ** 20)} MiB)` : "") +
      (config.outputFile
        ? `, file ${config.outputFile.path} (rotated at ${Math.floor(config.outputFile.maxBytes / 2 ** 20)} MiB, ${config.outputFile.keep} kept)`
        : "") +
      (config.metrics
        ? `; metrics at http://${config.metrics.family === 6 ? `[${config.metrics.host}]` : config.metrics.host}:${config.metrics.port}/metrics`
        : ""),
  ];
  return `${out.join("\n")}\n`;
}
