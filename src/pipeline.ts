/**
 * The agent's record path once the kernel side is attached: routes each record from the
 * kernel feed (the ring buffer and map expiry) through the joins (application messages,
 * checksums, the self-test's canary) to the printer, on timers; and the stop sequence.
 * Behind one small interface to the kernel side (KernelFeed), so that it runs against a
 * fake one in tests.
 */
import type { Digests } from "./enrich/checksums.ts";
import type { AppMessages } from "./aggregate/app-messages.ts";
import type { DigestWait } from "./enrich/digest-wait.ts";
import { debugApp, debugFile, debugSelects, debugSock } from "./format/debug.ts";
import { isExecutable } from "./format/file-json.ts";
import type { AppMessage } from "./records/app.ts";
import type { ExitNotice } from "./records/exit.ts";
import type { KernelFeed, RecordHandler } from "./records/feed.ts";
import type { FileRecord } from "./records/file.ts";
import { type SockRecord, withoutTraffic } from "./records/sock.ts";
import type { Losses, StopNotes } from "./report.ts";

/** how often the ring buffer is drained; records wait at most this long */
export const DRAIN_MS = 10;
/**
 * how often users, groups, mounts and packages are checked for changes, and records
 * against the idle and active timeouts
 */
export const SLOW_TICK_MS = 1000;
/** how often the kernel's count of deferred records is looked at */
const DEFERRED_CHECK_MS = 100;
/**
 * how often the files of processes that ended are looked for: each time walks the keys
 * of the whole file map, so exits are gathered rather than handled every drain
 */
const EXIT_FLUSH_MS = 100;
/** a slow tick with fewer records than this ends a burst... */
const QUIET_RECORDS = 1000;
/** ...of more records than this since the last collection */
const BURST_RECORDS = 20_000;
/** at stop, how long the ring buffer is drained at the pace of a slow stdout reader */
const STOP_DRAIN_MS = 1000;
/** at stop, how long records still waiting for checksums are given */
const DIGEST_GRACE_MS = 1000;

/** What prints records (src/sink/printer.ts). */
export interface Printer {
  file(rec: FileRecord, digests: Digests | undefined): void;
  sock(rec: SockRecord, messages: readonly AppMessage[] | undefined): void;
  /** records printed so far */
  readonly printed: number;
}

/** The outputs as the pipeline needs them (src/sink/outputs.ts). */
export interface PipelineOutputs {
  /** an output (stdout's reader, the file's writes) is so far behind that records should wait in the kernel */
  holdBack(): boolean;
  /** the end of a drained batch */
  flush(): void;
  /** looks for a stdout reader that went away while nothing was written */
  check(): void;
  /** grows while stdout's reader, though behind, keeps taking output */
  progress(): number;
  /** stdout's reader is gone and nothing else takes records */
  allGone(): boolean;
  close(): Promise<void>;
  /** their part of the losses */
  losses(): Pick<Losses, "udpFailed" | "stdoutDropped" | "syslogDropped" | "fileDropped">;
}

export interface PipelineParts {
  readonly feed: KernelFeed;
  readonly printer: Printer;
  readonly outputs: PipelineOutputs;
  readonly messages: AppMessages;
  /** learns from every DNS message the names that flows' remote addresses were resolved from */
  readonly remoteNames?: { observe(msg: AppMessage): void };
  /** names records' cgroups; counts the records whose cgroup it could not name */
  readonly cgroups?: { readonly unresolved: number };
  /** -c: records of executables wait here for their checksums */
  readonly digests?: DigestWait;
  /** the start-up self-test (src/selftest.ts), whose canary's records are its own */
  readonly selftest?: { claimsFile(rec: FileRecord): boolean; claimsSock(rec: SockRecord): boolean };
  /** -D: debug lines on stderr for records of this process ('*': all) */
  readonly debug?: string;
  /** whether application messages can come at all (-p) */
  readonly appCapture: boolean;
  /** -t, in ns */
  readonly idleNs: bigint;
  readonly activeNs: bigint;
  /** caches re-read on the slow tick (users, groups, mounts, packages) */
  readonly refresh: readonly (() => void)[];
  /** the kernel side looked at on the slow tick (runs the kernel skipped: the rescuers) */
  readonly watch?: () => void;
  /** CLOCK_MONOTONIC in ns, and wall-clock ms (tests pass their own) */
  readonly monotonicNs: () => bigint;
  readonly nowMs: () => number;
  /** where debug lines go */
  readonly debugOut: (line: string) => void;
  /** after each timed drain: how long it took, and the bytes in the ring when it began */
  readonly onDrain?: (seconds: number, ringBytes: number) => void;
  /** every output is gone (stdout's reader, the only one): time to stop */
  readonly onAllGone?: () => void;
}

/** What is reported at stop. */
export interface StopReport {
  readonly printed: number;
  readonly losses: Losses;
  readonly notes: StopNotes;
}

export class Pipeline implements RecordHandler {
  private readonly exits = new Map<number, ExitNotice>();
  /** sockets whose message slots filled up: printed after this batch */
  private readonly full = new Set<bigint>();
  /** sockets whose messages beyond their last record are printed at the end of the drain: their last record */
  private readonly rest = new Map<bigint, SockRecord>();
  private malformedCount = 0;
  private unclaimedAtStop = 0;
  /** drain whether stdout's reader keeps up or not */
  private force = false;
  private exitsFlushedAt = 0;
  private deferredSeen = 0;
  private deferredCheckedAt = 0;
  /** records printed at the last slow tick, and at the last collection after a burst */
  private lastTickPrinted = 0;
  private collectedAt = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private stopping = false;
  /** made once: the ring buffer asks it between batches */
  private readonly keepDraining = (): boolean => this.force || !this.parts.outputs.holdBack();

  constructor(private readonly parts: PipelineParts) {}

  get printed(): number {
    return this.parts.printer.printed;
  }

  // ---- routing (RecordHandler) ----

  file(rec: FileRecord): void {
    const { debug, selftest, digests, printer } = this.parts;
    if (debug && debugSelects(debug, rec.task)) this.parts.debugOut(debugFile(rec));
    if (selftest?.claimsFile(rec)) return;
    if (digests && isExecutable(rec)) digests.add(rec);
    else printer.file(rec, undefined);
  }

  sock(rec: SockRecord): void {
    const { debug, selftest, printer, messages } = this.parts;
    if (debug && debugSelects(debug, rec.task)) this.parts.debugOut(debugSock(rec));
    if (selftest?.claimsSock(rec)) return;
    if (!this.parts.appCapture) {
      printer.sock(rec, undefined);
      return;
    }
    printer.sock(rec, messages.take(rec.key));
    // more messages than one record holds: records of their own, without the counters again
    if (messages.waitingFor(rec.key)) this.rest.set(rec.key, rec);
    if (rec.closed) messages.closed(rec);
  }

  app(msg: AppMessage): void {
    if (this.parts.debug === "*") this.parts.debugOut(debugApp(msg));
    // every DNS answer, whether or not its socket's record is printed (or claimed by the self-test)
    this.parts.remoteNames?.observe(msg);
    if (this.parts.messages.add(msg)) this.full.add(msg.sockKey);
  }

  exit(notice: ExitNotice): void {
    this.exits.set(notice.pid, notice);
  }

  malformed(): void {
    this.malformedCount++;
  }

  /** printRest() for the sockets in `rest`, while the outputs keep up. */
  private printRests(): void {
    for (const [key, rec] of this.rest) {
      if (!this.keepDraining()) return;
      this.rest.delete(key);
      this.printRest(rec);
    }
  }

  /** Messages still waiting for the socket of rec, in records of their own without its traffic. */
  private printRest(rec: SockRecord): void {
    const { messages, printer } = this.parts;
    let bare: SockRecord | undefined;
    for (let more = messages.take(rec.key); more; more = messages.take(rec.key)) {
      bare ??= withoutTraffic(rec);
      printer.sock(bare, more);
    }
  }

  // ---- the ticks ----

  /** Moves what the kernel has to the printer: the ring buffer, then what it implies. */
  drain(): void {
    const { feed, messages, outputs } = this.parts;
    feed.drain(this, this.keepDraining);
    for (const rec of messages.lateSockets()) this.rest.set(rec.key, rec);
    // while an output is behind, messages wait here and full sockets' records in the kernel
    for (const key of this.full) {
      if (!this.keepDraining()) break;
      this.full.delete(key);
      feed.flushSocket(key, this.parts.monotonicNs(), this);
    }
    this.printRests();
    const now = this.parts.nowMs();
    if (this.exits.size > 0 && (this.force || now - this.exitsFlushedAt >= EXIT_FLUSH_MS)) {
      feed.flushExited(this.exits, this);
      this.exits.clear();
      this.exitsFlushedAt = now;
    }
    outputs.flush();
  }

  /** Everything the kernel has now, whether stdout's reader keeps up or not. */
  drainAll(): void {
    this.force = true;
    try {
      this.drain();
    } finally {
      this.force = false;
    }
  }

  /** The drain timer: drain, and take records the kernel kept because the ring was full. */
  drainTick(): void {
    if (this.parts.outputs.allGone()) {
      this.parts.onAllGone?.();
      return;
    }
    if (!this.keepDraining()) return;
    const began = performance.now();
    this.drain();
    this.parts.onDrain?.((performance.now() - began) / 1000, this.parts.feed.fillAtDrain);
    // taken out soon, so that the maps do not fill up with them
    const now = this.parts.nowMs();
    if (now - this.deferredCheckedAt < DEFERRED_CHECK_MS) return;
    this.deferredCheckedAt = now;
    const deferred = this.parts.feed.stats().STAT_DEFERRED;
    if (deferred === this.deferredSeen || !this.keepDraining()) return;
    this.deferredSeen = deferred;
    this.parts.feed.flushUnsent(this);
    this.parts.outputs.flush();
  }

  /** The slow timer: caches re-read, the kernel side watched, records past the idle or active timeout printed. */
  slowTick(): void {
    for (const refresh of this.parts.refresh) refresh();
    this.parts.watch?.();
    // a reader of stdout that went away while nothing was written
    this.parts.outputs.check();
    if (!this.keepDraining()) return;
    this.parts.feed.flushStale(this.parts.monotonicNs(), this.parts.idleNs, this.parts.activeNs, this);
    this.parts.outputs.flush();
    this.giveBackAfterBurst();
  }

  /**
   * Once a burst of records is over (fewer than QUIET_RECORDS in the last slow tick after
   * more than BURST_RECORDS since the last collection), a full garbage collection: the
   * burst's garbage goes back to the system at once instead of keeping the agent's memory
   * at the burst's peak (up to ~200 MiB more after 80k records/s) until the next one.
   */
  private giveBackAfterBurst(): void {
    const printed = this.printed;
    if (printed - this.lastTickPrinted < QUIET_RECORDS && printed - this.collectedAt > BURST_RECORDS) {
      this.collectedAt = printed;
      Bun.gc(true);
    }
    this.lastTickPrinted = printed;
  }

  /** Starts the timers; extra runs beside them every ms (the -V statistics). */
  start(extra?: { readonly everyMs: number; readonly run: () => void }): void {
    this.timers.push(setInterval(() => this.drainTick(), DRAIN_MS));
    this.timers.push(setInterval(() => this.slowTick(), SLOW_TICK_MS));
    if (extra) this.timers.push(setInterval(extra.run, extra.everyMs));
  }

  /** Every loss counter, the kernel's and the agent's, and what else is worth a note. */
  losses(): StopReport {
    const { feed, messages, outputs, digests, cgroups } = this.parts;
    const k = feed.stats();
    const skipped = feed.skippedRuns();
    return {
      printed: this.printed,
      losses: {
        ringFull: k.STAT_RING_FULL,
        fileMapFull: k.STAT_FILE_MAP_FULL,
        sockMapFull: k.STAT_SOCK_MAP_FULL,
        pathOpsLost: k.STAT_PATH_OP_LOST,
        scratchBusy: k.STAT_SCRATCH_BUSY,
        exitNoticesLost: k.STAT_EXIT_LOST,
        appLost: k.STAT_APP_LOST,
        appUnclaimed: messages.dropped + this.unclaimedAtStop,
        uncopied: k.uncopied,
        malformed: this.malformedCount,
        ...outputs.losses(),
        checksumsMissing: digests?.missing ?? 0,
        cgroupsUnresolved: cgroups?.unresolved ?? 0,
        uringUnseen: k.STAT_URING_UNSEEN,
        // (the skips a rescuer took are not lost)
        runsSkipped: Math.max(0, [...skipped.values()].reduce((a, b) => a + b, 0) - k.STAT_RESCUED),
      },
      notes: {
        pathsCut: k.STAT_PATH_TRUNCATED,
        deferred: k.STAT_DEFERRED,
        x32Calls: k.STAT_X32_CALLS,
        closeRangeCut: k.STAT_CLOSE_RANGE_CUT,
        skippedRuns: skipped,
        rescued: k.STAT_RESCUED,
      },
    };
  }

  /**
   * The stop sequence: no new events; what is in the ring buffer, then everything in the
   * maps, at the pace of stdout's reader while it keeps taking output, then regardless; records
   * waiting for checksums get a moment; the outputs are closed. Once only.
   */
  async stop(): Promise<StopReport | undefined> {
    if (this.stopping) return undefined;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const { feed, messages, digests, outputs } = this.parts;
    feed.detach();
    // at the pace of stdout's reader while it keeps taking output, else for STOP_DRAIN_MS
    let deadline = this.parts.nowMs() + STOP_DRAIN_MS;
    let progress = outputs.progress();
    while (this.parts.nowMs() < deadline) {
      if (outputs.progress() !== progress) {
        progress = outputs.progress();
        deadline = this.parts.nowMs() + STOP_DRAIN_MS;
      }
      if (!this.keepDraining()) {
        await Bun.sleep(5);
        continue;
      }
      this.drain();
      // then what waits in the maps, at the same pace
      if (!feed.stoppedEarly && this.full.size === 0 && this.rest.size === 0 && feed.flushAll(this, this.keepDraining)) break;
    }
    this.force = true;
    this.drain();
    feed.flushAll(this);
    this.printRests();
    // messages of sockets whose record never came (their socket was not seen)
    this.unclaimedAtStop = messages.waiting;
    await digests?.finish(DIGEST_GRACE_MS);
    await outputs.close();
    const report = this.losses();
    feed.close();
    return report;
  }
}
