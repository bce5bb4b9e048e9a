/**
 * kflowd agent: parses the command line, checks the host, loads the kernel side and
 * wires ring buffer -> decode -> enrich -> format -> sink. Nothing else wires stages.
 */
import { monotonicNs } from "../ffi/clock.ts";
import { BpfError, SetupError } from "../ffi/errors.ts";
import { loadLibbpf } from "../ffi/libbpf.ts";
import { MapAccess } from "../ffi/map.ts";
import { loadShim } from "../ffi/shim.ts";
import { FileFlusher, MapFlusher, SOCK_KIND } from "./aggregate/flush.ts";
import { helpText, parseArgs, UsageError } from "./cli.ts";
import { buildConfig, type Config } from "./config.ts";
import { bpfObjectPath, shimPath } from "./embedded.ts";
import { DeviceNames } from "./enrich/devices.ts";
import { hostFacts } from "./enrich/host.ts";
import { InterfaceNames } from "./enrich/interfaces.ts";
import { UserGroupNames } from "./enrich/user-group.ts";
import type { HostInfo } from "./format/common.ts";
import { type FormatContext, fileJson } from "./format/file-json.ts";
import { pretty } from "./format/pretty.ts";
import { sockJson } from "./format/sock-json.ts";
import { RingReader } from "./ingest/ring.ts";
import { readKernelStats } from "./ingest/stats.ts";
import { startKernel } from "./kernel.ts";
import { preflight } from "./preflight.ts";
import { AppMessages } from "./aggregate/app-messages.ts";
import { decodeApp } from "./records/app.ts";
import { decodeExit, type ExitNotice } from "./records/exit.ts";
import { decodeFile } from "./records/file.ts";
import { decodeSock } from "./records/sock.ts";
import { recordType } from "./records/header.ts";
import { FileKey, RecApp, RecFile, RecSock, RecType } from "./records/layout.gen.ts";
import { stdoutSink } from "./sink/stdout.ts";
import { udpSink } from "./sink/udp.ts";
import { legendText } from "./legend.ts";
import { VERSION } from "./version.ts";

/** how often the ring buffer is drained; records wait at most this long */
const DRAIN_MS = 10;
/**
 * how often /etc/passwd, /etc/group and the mount table are checked for changes, and
 * file records are checked against the idle and active timeouts
 */
const SLOW_TICK_MS = 1000;
const RING_BYTES = 8 << 20;
const FILE_ENTRIES = 4096;
const SOCK_ENTRIES = 8192;
const BATCH_BYTES = 1 << 20;

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
  preflight(process.geteuid?.() ?? -1);
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
  });
  const { object } = kernel;
  const largestRecord = Math.max(RecFile.SIZE, RecSock.SIZE, RecApp.SIZE);
  const reader = new RingReader(object.openRing("ring", largestRecord), BATCH_BYTES);
  const flusher = new FileFlusher(new MapAccess(lib, object.mapFd("files"), FileKey.SIZE, FILE_ENTRIES));
  const sockKeySize = 8; // a u64: cookie or socket inode
  const sockFlusher = new MapFlusher(new MapAccess(lib, object.mapFd("socks"), sockKeySize, SOCK_ENTRIES), SOCK_KIND);
  const statsFd = object.mapFd("stats");

  const names = new UserGroupNames();
  const devices = new DeviceNames();
  const interfaces = new InterfaceNames();
  const host: HostInfo = { ...hostFacts(), hostToken: config.hostToken, version: `kflowd-${VERSION}` };
  const sink = stdoutSink();
  const collectors = config.collectors.length ? await udpSink(config.collectors) : undefined;
  const monoStart = process.hrtime.bigint();
  const wallStart = BigInt(Date.now()) * 1_000_000n;
  const ctx: { -readonly [K in keyof FormatContext]: FormatContext[K] } = {
    host,
    names,
    devices,
    interfaces,
    seq: 0,
    nowNs: 0n,
    uptimeNs: 0n,
  };
  const exits = new Map<number, ExitNotice>();
  const messages = new AppMessages(config.appMessages);
  /** sockets whose message slots filled up: printed after this batch */
  const full = new Set<bigint>();
  const counts = { malformed: 0 };
  const indented = config.output === "json";

  function emit(line: string): void {
    const text = indented ? pretty(line) : line;
    if (!config.quiet) sink.write(indented ? `${text}\n\x1e\n` : `${text}\n`);
    collectors?.send(text);
  }

  /** Stamps the per-record Info values; returns the context to format with. */
  function next(): FormatContext {
    ctx.seq++;
    ctx.uptimeNs = process.hrtime.bigint() - monoStart;
    ctx.nowNs = wallStart + ctx.uptimeNs;
    return ctx;
  }

  function visit(view: DataView, bytes: Uint8Array, off: number, size: number): void {
    switch (recordType(view, off, size)) {
      case RecType.REC_TYPE_FILE: {
        const rec = decodeFile(view, bytes, off, size);
        if (rec) emit(fileJson(rec, next()));
        else counts.malformed++;
        return;
      }
      case RecType.REC_TYPE_SOCK: {
        const rec = decodeSock(view, bytes, off, size);
        if (rec) emit(sockJson(rec, next(), messages.take(rec.key)));
        else counts.malformed++;
        return;
      }
      case RecType.REC_TYPE_APP: {
        const msg = decodeApp(view, bytes, off, size);
        if (!msg) counts.malformed++;
        else if (messages.add(msg)) full.add(msg.sockKey);
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

  function drain(): void {
    reader.drain(visit);
    if (full.size > 0) {
      for (const key of full) sockFlusher.flushKey(key, monotonicNs(), visit);
      full.clear();
    }
    if (exits.size > 0) {
      flusher.flushExited(exits, visit);
      exits.clear();
    }
    sink.flush();
  }

  process.stderr.write(
    `kflowd ${VERSION} with PID ${process.pid} started in terminal mode ` +
      `(Linux ${host.kernel}, libbpf ${libbpfVersion}, output ${config.output}` +
      `${config.quiet ? " to collectors only" : ""}${config.collectors.map((c) => `, UDP ${c.family === 6 ? `[${c.host}]` : c.host}:${c.port}`).join("")})\n` +
      kernel.features
        .map((f) => `  ${f.feature}: ${f.tier} (${f.degraded ?? f.programs.join(", ")})\n`)
        .join(""),
  );

  const drainTimer = setInterval(drain, DRAIN_MS);
  const idleNs = BigInt(config.timeouts.idleSec) * 1_000_000_000n;
  const activeNs = BigInt(config.timeouts.activeSec) * 1_000_000_000n;
  const slowTimer = setInterval(() => {
    names.refresh();
    devices.refresh();
    const now = monotonicNs();
    flusher.flushStale(now, idleNs, activeNs, visit);
    sockFlusher.flushStale(now, idleNs, activeNs, visit);
    sink.flush();
  }, SLOW_TICK_MS);

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (): Promise<void> => {
      if (stopping) return;
      stopping = true;
      clearInterval(drainTimer);
      clearInterval(slowTimer);
      // no new events once detached; then take what is in the ring and in the maps
      object.detach();
      drain();
      flusher.flushAll(visit);
      sockFlusher.flushAll(visit);
      await sink.close();
      collectors?.close();
      const stats = readKernelStats(lib, statsFd);
      reader.close();
      object.close();
      process.stderr.write(
        `kflowd: stopped after ${ctx.seq} records; lost: ring full ${stats.STAT_RING_FULL}, ` +
          `file map full ${stats.STAT_FILE_MAP_FULL}, exit notices ${stats.STAT_EXIT_LOST}, ` +
          `app messages ${stats.STAT_APP_LOST} + ${messages.dropped} unclaimed, uncopied ${reader.lost}, ` +
          `malformed ${counts.malformed}${collectors ? `, UDP sends failed ${collectors.failed}` : ""}; ` +
          `paths cut ${stats.STAT_PATH_TRUNCATED}\n`,
      );
      resolve(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // reload what names records: users, groups, mounts, interfaces
    process.on("SIGHUP", () => {
      names.refresh();
      devices.refresh();
      interfaces.refresh();
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
  } catch (e) {
    if (e instanceof UsageError) return fail(`${e.message}\nTry 'kflowd --help' for the options.`);
    throw e;
  }
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
