/**
 * kflowd agent: parses the command line, checks the host, loads the kernel side, and
 * wires the kernel feed, the enrichment caches and the outputs into the pipeline
 * (src/pipeline.ts). Nothing else wires stages.
 */
import { readFileSync } from "node:fs";
import { cgroupPathByHandle } from "../ffi/cgroup-path.ts";
import { monotonicNs } from "../ffi/clock.ts";
import { BpfError, SetupError } from "../ffi/errors.ts";
import { loadLibbpf } from "../ffi/libbpf.ts";
import { MapAccess } from "../ffi/map.ts";
import { loadShim } from "../ffi/shim.ts";
import { AppMessages } from "./aggregate/app-messages.ts";
import { RemoteNames } from "./app/dns-names.ts";
import { helpText, parseArgs, UsageError } from "./cli.ts";
import { buildConfig, type Config } from "./config.ts";
import { enterDaemonDir, isDaemonChild, reportDaemonReady, startDaemon } from "./daemon.ts";
import { CgroupNames } from "./enrich/cgroups.ts";
import { Checksums } from "./enrich/checksums.ts";
import { DeviceNames } from "./enrich/devices.ts";
import { DigestWait } from "./enrich/digest-wait.ts";
import { hostFacts } from "./enrich/host.ts";
import { InterfaceNames } from "./enrich/interfaces.ts";
import { PackageVersions } from "./enrich/packages.ts";
import { UserGroupNames } from "./enrich/user-group.ts";
import type { HostInfo } from "./format/common.ts";
import { expiryDebugLine } from "./format/debug.ts";
import { FileFlusher, MapFlusher, SOCK_KIND } from "./ingest/expiry.ts";
import { RingReader } from "./ingest/ring.ts";
import { kernelStatsReader, programRunsSkipped } from "./ingest/stats.ts";
import { cgroup2MountInfo, startKernel } from "./kernel.ts";
import { legendText } from "./legend.ts";
import { DRAIN_SECONDS_BOUNDS, Histogram, RING_FILL_BOUNDS, serveMetrics } from "./metrics.ts";
import { Pipeline } from "./pipeline.ts";
import { effectiveCapabilities, jitState, preflight } from "./preflight.ts";
import { BpfFeed } from "./records/feed.ts";
import { FileKey, RecApp, RecFile, RecSock } from "./records/layout.gen.ts";
import { degradedFeatures, PeriodicStats, startBanner, stopSummary } from "./report.ts";
import { SkipRescue } from "./rescue.ts";
import { SelfTest, selfTestText } from "./selftest.ts";
import { openOutputs } from "./sink/outputs.ts";
import { RecordPrinter } from "./sink/printer.ts";
import { VERSION } from "./version.ts";

const RING_BYTES = 4 << 20;
const FILE_ENTRIES = 4096;
const SOCK_ENTRIES = 8192;
/** a socket record's key: a u64, cookie or socket inode */
const SOCK_KEY_SIZE = 8;
const BATCH_BYTES = 1 << 20;
/** -V: how often the statistics line is printed */
const STATS_MS = 10_000;
/** how long the start-up self-test waits for the canary's records at most */
const SELF_TEST_MS = 250;

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
  // the build's outputs, imported only here: parsing options and --help work unbuilt
  const { bpfObjectPath, shimPath } = await import("./embedded.ts");
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
    // test only: programs made to fail to load, to prove the fallback (test/e2e/startup.test.ts)
    breakPrograms: process.env.KFLOWD_TEST_BREAK?.split(",").filter(Boolean),
  });
  const { object } = kernel;
  const largestRecord = Math.max(RecFile.SIZE, RecSock.SIZE, RecApp.SIZE);
  const files = new FileFlusher(new MapAccess(lib, object.mapFd("files"), FileKey.SIZE, FILE_ENTRIES));
  const socks = new MapFlusher(new MapAccess(lib, object.mapFd("socks"), SOCK_KEY_SIZE, SOCK_ENTRIES), SOCK_KIND);
  // -D q: the timeout scans' decisions (kflowd's expiry queue), not a process named q
  if (config.debugProcess === "q") files.debug = socks.debug = expiryDebugLine;
  const feed = new BpfFeed({
    ring: new RingReader(object.openRing("ring", largestRecord), BATCH_BYTES),
    files,
    socks,
    stats: kernelStatsReader(lib, object.mapFd("stats")),
    skippedRuns: () => programRunsSkipped(kernel.programs),
    object,
  });

  const rescue = new SkipRescue(object, kernel.programs, kernel.rescuers);
  const daemon = isDaemonChild();
  const names = new UserGroupNames();
  const devices = new DeviceNames();
  const interfaces = new InterfaceNames();
  const versions = config.versions ? await PackageVersions.load() : undefined;
  const hierarchy = cgroup2MountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
  const cgroups = new CgroupNames(hierarchy && { ...hierarchy, byHandle: cgroupPathByHandle(shim, hierarchy.mount) });
  const remoteNames = new RemoteNames();
  // Opened once the programs are attached, so that the kernel side marks the agent's own
  // sockets (UDP collectors, the syslog relay) and never reports them.
  const outputs = await openOutputs(config, { daemon, hostName: host.hostName });
  const printer = new RecordPrinter(
    { host, names, devices, interfaces, versions, cgroups, remoteNames },
    {
      output: config.output,
      rs: config.rs,
      width: process.stdout.columns || 120,
      toStdout: outputs.toStdout,
      stdout: outputs.stdout,
      collectors: outputs.collectors,
      lines: outputs.lines,
    },
  );
  const digests = config.checksums
    ? new DigestWait(new Checksums(), (rec, d, later) => {
        printer.file(rec, d);
        if (later) outputs.flush();
      })
    : undefined;
  const selftest = config.selfTest === "off" ? undefined : new SelfTest(shim, config.monitor, kernel.features);
  // --metrics: how long drains take and how full the ring is when they begin
  const drainSeconds = new Histogram(DRAIN_SECONDS_BOUNDS);
  const ringFillAtDrain = new Histogram(RING_FILL_BOUNDS);
  /** set once the stop sequence can run: stdout, the only output, may be gone before */
  let requestStop: () => void = () => {};
  const pipeline = new Pipeline({
    feed,
    printer,
    outputs,
    messages: new AppMessages(config.appMessages, new Set(config.apps.ports.filter((p) => p.proto === "tcp").map((p) => p.port))),
    remoteNames,
    cgroups,
    digests,
    selftest,
    debug: config.debugProcess === "q" ? undefined : config.debugProcess,
    // application capture turned off altogether (-p NAME=off for every application)
    appCapture: config.apps.ports.length > 0 || config.apps.unixSyslog,
    idleNs: BigInt(config.timeouts.idleSec) * 1_000_000_000n,
    activeNs: BigInt(config.timeouts.activeSec) * 1_000_000_000n,
    refresh: [() => names.refresh(), () => devices.refresh(), () => versions?.refresh()],
    watch: () => rescue.check(),
    monotonicNs,
    nowMs: Date.now,
    debugOut: (line) => process.stderr.write(line),
    onDrain: (seconds, ringBytes) => {
      drainSeconds.observe(seconds);
      ringFillAtDrain.observe(ringBytes / RING_BYTES);
    },
    onAllGone: () => requestStop(),
  });

  // before the self-test, whose draining may print other processes' records
  printer.header();
  // loading and attaching may have shown skipped runs already: rescued from the self-test on
  // (test only: KFLOWD_TEST_RESCUE=1 attaches the rescuers whatever the kernel does)
  rescue.check(process.env.KFLOWD_TEST_RESCUE === "1");
  const checked = await selftest?.run(() => pipeline.drainAll(), SELF_TEST_MS);
  if (checked?.failures.length && config.selfTest === "fatal") {
    feed.close();
    throw new SetupError(`${selfTestText(checked)} (--self-test fatal)`);
  }
  const degraded = degradedFeatures(kernel.features, checked?.failures.map((f) => f.feature) ?? []);
  // said once the stop signals are handled: a stop right after the start line is orderly
  const announce = (): void => {
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
  };

  const startTimeSec = Date.now() / 1000;
  const metrics =
    config.metrics &&
    serveMetrics(config.metrics, () => {
      const { losses, notes } = pipeline.losses();
      return {
        version: VERSION,
        startTimeSec,
        records: { file: printer.files, socket: printer.socks },
        losses,
        notes,
        ringSizeBytes: RING_BYTES,
        ringFillBytes: feed.ringFill(),
        ringFillAtDrain,
        drainSeconds,
        features: kernel.features,
        degraded,
        outputs: outputs.status(),
      };
    });
  const periodic = new PeriodicStats(Date.now(), degraded);
  pipeline.start(
    config.verbose
      ? { everyMs: STATS_MS, run: () => process.stderr.write(periodic.line(pipeline.printed, pipeline.losses().losses, Date.now())) }
      : undefined,
  );
  return await new Promise<number>((resolve) => {
    const stop = async (): Promise<void> => {
      try {
        metrics?.stop();
        const report = await pipeline.stop();
        if (!report) return;
        process.stderr.write(stopSummary(report.printed, report.losses, report.notes, degraded));
        resolve(0);
      } catch (e) {
        // a stop always ends the agent, even one that failed half-way
        process.stderr.write(`kflowd: stopping failed: ${e instanceof Error ? e.message : String(e)}\n`);
        resolve(1);
      }
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
    announce();
    // the self-test's and the start's calls may have shown skipped runs already
    rescue.check();
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
