/**
 * kflowd agent: parses the command line, checks the host, loads the kernel side and
 * wires ring buffer -> decode -> enrich -> format -> sink. Nothing else wires stages.
 */
import { monotonicNs } from "../ffi/clock.ts";
import { BpfError, SetupError } from "../ffi/errors.ts";
import { loadLibbpf } from "../ffi/libbpf.ts";
import { MapAccess } from "../ffi/map.ts";
import { loadShim } from "../ffi/shim.ts";
import { AppMessages } from "./aggregate/app-messages.ts";
import { FileFlusher, MapFlusher, SOCK_KIND } from "./aggregate/flush.ts";
import { helpText, parseArgs, UsageError } from "./cli.ts";
import { buildConfig, type Config } from "./config.ts";
import { enterDaemonDir, isDaemonChild, reportDaemonReady, startDaemon } from "./daemon.ts";
import { bpfObjectPath, shimPath } from "./embedded.ts";
import { Checksums } from "./enrich/checksums.ts";
import { DeviceNames } from "./enrich/devices.ts";
import { DigestWait } from "./enrich/digest-wait.ts";
import { hostFacts } from "./enrich/host.ts";
import { InterfaceNames } from "./enrich/interfaces.ts";
import { PackageVersions } from "./enrich/packages.ts";
import { UserGroupNames } from "./enrich/user-group.ts";
import type { HostInfo } from "./format/common.ts";
import { debugApp, debugFile, debugSelects, debugSock } from "./format/debug.ts";
import { isExecutable } from "./format/file-json.ts";
import { RingReader } from "./ingest/ring.ts";
import { kernelStatsReader } from "./ingest/stats.ts";
import { startKernel } from "./kernel.ts";
import { legendText } from "./legend.ts";
import { DRAIN_SECONDS_BOUNDS, Histogram, type MetricsServer, RING_FILL_BOUNDS, serveMetrics } from "./metrics.ts";
import { effectiveCapabilities, jitState, preflight } from "./preflight.ts";
import { decodeApp } from "./records/app.ts";
import { decodeExit, type ExitNotice } from "./records/exit.ts";
import { decodeFile } from "./records/file.ts";
import { recordType } from "./records/header.ts";
import { FileKey, RecApp, RecFile, RecSock, RecType } from "./records/layout.gen.ts";
import { decodeSock, type SockRecord, withoutTraffic } from "./records/sock.ts";
import { degradedFeatures, type Losses, PeriodicStats, type StopNotes, startBanner, stopSummary } from "./report.ts";
import { SelfTest, selfTestText } from "./selftest.ts";
import { openOutputs } from "./sink/outputs.ts";
import { RecordPrinter } from "./sink/printer.ts";
import { VERSION } from "./version.ts";

/** how often the ring buffer is drained; records wait at most this long */
const DRAIN_MS = 10;
/**
 * how often /etc/passwd, /etc/group and the mount table are checked for changes, and
 * file records are checked against the idle and active timeouts
 */
const SLOW_TICK_MS = 1000;
const RING_BYTES = 4 << 20;
const FILE_ENTRIES = 4096;
const SOCK_ENTRIES = 8192;
const BATCH_BYTES = 1 << 20;
/** -V: how often the statistics line is printed */
const STATS_MS = 10_000;
/** how often the kernel's count of deferred records is looked at */
const DEFERRED_CHECK_MS = 100;
/**
 * how often the files of processes that ended are looked for: each time walks the keys
 * of the whole file map, so exits are gathered rather than handled every drain
 */
const EXIT_FLUSH_MS = 100;
/** at stop, how long the ring buffer is drained at the pace of a slow stdout reader */
const STOP_DRAIN_MS = 1000;
/** how long the start-up self-test waits for the canary's records at most */
const SELF_TEST_MS = 250;
/** at stop, how long records still waiting for checksums are given */
const DIGEST_GRACE_MS = 1000;

function fail(message: string): number {
  process.stderr.write(`kflowd: ${message}\n`);
  return 1;
}

async function versionText(): Promise<string> {
  let libbpf = "libbpf not found";
  try {
    libbpf = `libbpf ${loadLibbpf().version}`;
  } catch {}
  return `kflowd ${VERSION} (bun ${Bun.version}, ${process.platform} ${process.arch}, ${libbpf})\n`;
}

async function run(config: Config): Promise<number> {
  const host: HostInfo = { ...hostFacts(), hostToken: config.hostToken, version: `kflowd-${VERSION}` };
  preflight({
    euid: process.geteuid?.() ?? -1,
    release: host.kernel,
    caps: effectiveCapabilities(),
    sockets: config.monitor.socket,
  });
  const { lib, version: libbpfVersion } = loadLibbpf();
  const shim = await loadShim(shimPath);
  shim.kf_log_init(config.verbose ? 1 : 0);
  const objectBytes = await Bun.file(bpfObjectPath).bytes();
  const kernel = startKernel(lib, shim, objectBytes, {
    agentPid: process.pid,
    ringBytes: RING_BYTES,
    fileEntries: FILE_ENTRIES,
    sockEntries: SOCK_ENTRIES,
    eventsMax: config.eventsMax,
    apps: config.apps,
    appBytes: config.appBytes,
    monitor: config.monitor,
    // test only: programs made to fail to load, to prove the fallback (test/e2e/fallback.test.ts)
    breakPrograms: process.env.KFLOWD_TEST_BREAK?.split(",").filter(Boolean),
  });
  const { object } = kernel;
  const largestRecord = Math.max(RecFile.SIZE, RecSock.SIZE, RecApp.SIZE);
  const reader = new RingReader(object.openRing("ring", largestRecord), BATCH_BYTES);
  const flusher = new FileFlusher(new MapAccess(lib, object.mapFd("files"), FileKey.SIZE, FILE_ENTRIES));
  const sockKeySize = 8; // a u64: cookie or socket inode
  const sockFlusher = new MapFlusher(new MapAccess(lib, object.mapFd("socks"), sockKeySize, SOCK_ENTRIES), SOCK_KIND);
  const kernelStats = kernelStatsReader(lib, object.mapFd("stats"));

  const daemon = isDaemonChild();
  const names = new UserGroupNames();
  const devices = new DeviceNames();
  const interfaces = new InterfaceNames();
  const versions = config.versions ? await PackageVersions.load() : undefined;

  // ---- outputs: stdout, UDP collectors, and the line outputs (syslog relay, NDJSON file).
  // Opened once the programs are attached, so that the kernel side marks the agent's own
  // sockets and never reports them.
  const outputs = await openOutputs(config, { daemon, hostName: host.hostName });
  const { toStdout, stdout } = outputs;
  const printer = new RecordPrinter(
    { host, names, devices, interfaces, versions },
    {
      output: config.output,
      width: process.stdout.columns || 120,
      toStdout,
      stdout,
      collectors: outputs.collectors,
      lines: outputs.lines,
    },
  );
  // ---- end of outputs

  // ---- metrics (--metrics): read from the agent's own counters when the page is asked for
  const drainSeconds = new Histogram(DRAIN_SECONDS_BOUNDS);
  const ringFillAtDrain = new Histogram(RING_FILL_BOUNDS);
  const startTimeSec = Date.now() / 1000;
  /** the features the banner reports degraded (known once the self-test ran) */
  let degraded: readonly string[] = [];
  const metrics: MetricsServer | undefined =
    config.metrics &&
    serveMetrics(config.metrics, () => {
      const { losses: lost, notes } = losses();
      return {
        version: VERSION,
        startTimeSec,
        records: { file: printer.files, socket: printer.socks },
        losses: lost,
        notes,
        ringSizeBytes: RING_BYTES,
        ringFillBytes: reader.fill(),
        ringFillAtDrain,
        drainSeconds,
        features: kernel.features,
        degraded,
        outputs: outputs.status(),
      };
    });
  // ---- end of metrics

  const digests = config.checksums
    ? new DigestWait(new Checksums(), (rec, d, later) => {
        printer.file(rec, d);
        if (later) outputs.flush();
      })
    : undefined;
  const debug = config.debugProcess;
  const exits = new Map<number, ExitNotice>();
  const messages = new AppMessages(config.appMessages);
  /** sockets whose message slots filled up: printed after this batch */
  const full = new Set<bigint>();
  const counts = { malformed: 0, unclaimedAtStop: 0 };
  let stopping = false;
  /** drain whether stdout's reader keeps up or not (at the end of a stop) */
  let force = false;
  let exitsFlushedAt = 0;

  /**
   * application capture turned off altogether (-p NAME=off for every application; it is on
   * by default): no message can come, socket records need no bookkeeping for them
   */
  const appCapture = config.apps.ports.length > 0 || config.apps.unixSyslog;
  /** the canary's records are checked by the self-test, never printed */
  const selftest = config.selfTest === "off" ? undefined : new SelfTest(shim, config.monitor, kernel.features);

  /** Messages still waiting for the socket of rec, in records of their own without its traffic. */
  function printRest(rec: SockRecord): void {
    let bare: SockRecord | undefined;
    for (let more = messages.take(rec.key); more; more = messages.take(rec.key)) {
      bare ??= withoutTraffic(rec);
      printer.sock(bare, more);
    }
  }

  function visit(view: DataView, bytes: Uint8Array, off: number, size: number): void {
    switch (recordType(view, off, size)) {
      case RecType.REC_TYPE_FILE: {
        const rec = decodeFile(view, bytes, off, size);
        if (!rec) {
          counts.malformed++;
          return;
        }
        if (debug && debugSelects(debug, rec.task)) process.stderr.write(debugFile(rec));
        if (selftest?.claimsFile(rec)) return;
        if (digests && isExecutable(rec)) digests.add(rec);
        else printer.file(rec, undefined);
        return;
      }
      case RecType.REC_TYPE_SOCK: {
        const rec = decodeSock(view, bytes, off, size);
        if (!rec) {
          counts.malformed++;
          return;
        }
        if (debug && debugSelects(debug, rec.task)) process.stderr.write(debugSock(rec));
        if (selftest?.claimsSock(rec)) return;
        if (!appCapture) {
          printer.sock(rec, undefined);
          return;
        }
        printer.sock(rec, messages.take(rec.key));
        // more messages than one record holds: records of their own, without the counters again
        printRest(rec);
        if (rec.closed) messages.closed(rec);
        return;
      }
      case RecType.REC_TYPE_APP: {
        const msg = decodeApp(view, bytes, off, size);
        if (!msg) {
          counts.malformed++;
          return;
        }
        if (debug === "*") process.stderr.write(debugApp(msg));
        if (messages.add(msg)) full.add(msg.sockKey);
        return;
      }
      case RecType.REC_TYPE_EXIT: {
        const exit = decodeExit(view, off, size);
        if (exit) exits.set(exit.pid, exit);
        else counts.malformed++;
        return;
      }
      default:
        counts.malformed++;
    }
  }

  /** Whether draining may go on: the outputs keep up (stdout's reader, the file), or are no longer waited for. */
  const keepDraining = (): boolean => force || !outputs.holdBack();

  function drain(): void {
    reader.drain(visit, keepDraining);
    for (const rec of messages.lateSockets()) printRest(rec);
    if (full.size > 0) {
      for (const key of full) sockFlusher.flushKey(key, monotonicNs(), visit);
      full.clear();
    }
    if (exits.size > 0 && (force || Date.now() - exitsFlushedAt >= EXIT_FLUSH_MS)) {
      flusher.flushExited(exits, visit);
      exits.clear();
      exitsFlushedAt = Date.now();
    }
    outputs.flush();
  }

  function losses(): { losses: Losses; notes: StopNotes } {
    const k = kernelStats();
    return {
      losses: {
        ringFull: k.STAT_RING_FULL,
        fileMapFull: k.STAT_FILE_MAP_FULL,
        sockMapFull: k.STAT_SOCK_MAP_FULL,
        pathOpsLost: k.STAT_PATH_OP_LOST,
        exitNoticesLost: k.STAT_EXIT_LOST,
        appLost: k.STAT_APP_LOST,
        appUnclaimed: messages.dropped + counts.unclaimedAtStop,
        uncopied: reader.lost,
        malformed: counts.malformed,
        ...outputs.losses(),
        checksumsMissing: digests?.missing ?? 0,
      },
      notes: { pathsCut: k.STAT_PATH_TRUNCATED, deferred: k.STAT_DEFERRED },
    };
  }

  // before the self-test, whose draining may print other processes' records
  printer.header();
  const checked = selftest
    ? await selftest.run(() => {
        force = true;
        drain();
        force = false;
      }, SELF_TEST_MS)
    : undefined;
  if (checked?.failures.length && config.selfTest === "fatal") {
    object.close();
    throw new SetupError(`${selfTestText(checked)} (--self-test fatal)`);
  }
  degraded = degradedFeatures(kernel.features, checked?.failures.map((f) => f.feature) ?? []);
  process.stderr.write(
    startBanner(
      {
        version: VERSION,
        pid: process.pid,
        mode: daemon ? "daemon" : "terminal",
        kernelRelease: host.kernel,
        libbpf: libbpfVersion,
        jit: jitState(),
        features: kernel.features,
        fileEntries: FILE_ENTRIES,
        sockEntries: SOCK_ENTRIES,
        ringBytes: RING_BYTES,
        packagedFiles: versions?.size,
        selfTest: checked && selfTestText(checked),
      },
      config,
    ),
  );
  reportDaemonReady();

  /** set once the stop sequence can run: stdout, the only output, may be gone before */
  let requestStop: () => void = () => {};
  let deferred = 0;
  let deferredCheckedAt = 0;
  const drainTimer = setInterval(() => {
    if (outputs.allGone()) return requestStop();
    if (!keepDraining()) return;
    const began = performance.now();
    drain();
    drainSeconds.observe((performance.now() - began) / 1000);
    ringFillAtDrain.observe(reader.fillAtDrain / RING_BYTES);
    // records the kernel kept because the ring was full: taken out soon, so that the map
    // does not fill up with them (checked at most every DEFERRED_CHECK_MS)
    const now = Date.now();
    if (now - deferredCheckedAt < DEFERRED_CHECK_MS) return;
    deferredCheckedAt = now;
    const k = kernelStats().STAT_DEFERRED;
    if (k === deferred) return;
    deferred = k;
    flusher.flushUnsent(visit);
    sockFlusher.flushUnsent(visit);
    outputs.flush();
  }, DRAIN_MS);
  const idleNs = BigInt(config.timeouts.idleSec) * 1_000_000_000n;
  const activeNs = BigInt(config.timeouts.activeSec) * 1_000_000_000n;
  const slowTimer = setInterval(() => {
    names.refresh();
    devices.refresh();
    versions?.refresh();
    // a reader of stdout that went away while nothing was written
    outputs.check();
    if (!keepDraining()) return;
    const now = monotonicNs();
    flusher.flushStale(now, idleNs, activeNs, visit);
    sockFlusher.flushStale(now, idleNs, activeNs, visit);
    outputs.flush();
  }, SLOW_TICK_MS);
  const periodic = new PeriodicStats(Date.now(), degraded);
  const statsTimer = config.verbose
    ? setInterval(() => process.stderr.write(periodic.line(printer.printed, losses().losses, Date.now())), STATS_MS)
    : undefined;

  return await new Promise<number>((resolve) => {
    const stop = async (): Promise<void> => {
      if (stopping) return;
      stopping = true;
      try {
        await finish();
        resolve(0);
      } catch (e) {
        // a stop always ends the agent, even one that failed half-way
        process.stderr.write(`kflowd: stopping failed: ${e instanceof Error ? e.message : String(e)}\n`);
        resolve(1);
      }
    };
    const finish = async (): Promise<void> => {
      clearInterval(drainTimer);
      clearInterval(slowTimer);
      clearInterval(statsTimer);
      metrics?.stop();
      // no new events once detached; then take what is in the ring, at the pace of
      // stdout's reader for a while, and what is in the maps
      object.detach();
      const deadline = Date.now() + STOP_DRAIN_MS;
      while (Date.now() < deadline) {
        if (!keepDraining()) {
          await Bun.sleep(5);
          continue;
        }
        drain();
        if (!reader.stoppedEarly) break;
      }
      force = true;
      drain();
      flusher.flushAll(visit);
      sockFlusher.flushAll(visit);
      // messages of sockets whose record never came (their socket was not seen)
      counts.unclaimedAtStop = messages.waiting;
      // records waiting for checksums get a moment, then go out without them
      await digests?.finish(DIGEST_GRACE_MS);
      await outputs.close();
      const { losses: lost, notes } = losses();
      reader.close();
      object.close();
      process.stderr.write(stopSummary(printer.printed, lost, notes, degraded));
    };
    requestStop = () => void stop();
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // reload what names records: users, groups, mounts, interfaces, packages
    process.on("SIGHUP", () => {
      names.refresh();
      devices.refresh();
      interfaces.refresh();
      versions?.refresh();
    });
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  let config: Config;
  try {
    const raw = parseArgs(argv);
    if (raw.help) {
      process.stdout.write(helpText(VERSION));
      return 0;
    }
    if (raw.legend) {
      process.stdout.write(legendText());
      return 0;
    }
    if (raw.version) {
      process.stdout.write(await versionText());
      return 0;
    }
    config = buildConfig(raw);
    enterDaemonDir();
  } catch (e) {
    if (e instanceof UsageError) return fail(`${e.message}\nTry 'kflowd --help' for the options.`);
    throw e;
  }
  // the command leaves the detached agent behind: exit without waiting for its handles
  if (config.daemon && !isDaemonChild()) process.exit(await startDaemon(argv));
  try {
    return await run(config);
  } catch (e) {
    if (e instanceof SetupError) return fail(e.message);
    if (e instanceof BpfError) {
      return fail(config.verbose ? e.message : `${e.message} (run with -V for libbpf's log)`);
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
