/**
 * The agent's CPU per record without the kernel: synthetic ring frames laid out with
 * layout.gen.ts (kfgen's records: a file created, written, closed and one deleted per
 * operation; a TCP client and server record per connection) go through the real path
 * BpfFeed (decode) → RecordPrinter (json-min, straight into stdout's buffer) → a stdout
 * sink whose writer throws the bytes away. Reports, per record, the CPU of each thread
 * of this process (/proc/self/task/<tid>/stat: the main JS thread, JSC's helpers, the
 * allocator's scavenger), and the allocator's page faults and peak commit (bun:jsc
 * memoryUsage). Run as root or not; nothing is asserted.
 *
 *   node_modules/.bin/bun bench/agent-cpu.ts [files|conns|both] [records per round] [rounds]
 */
import * as jsc from "bun:jsc";
import { readdirSync, readFileSync } from "node:fs";
import { RemoteNames } from "../src/app/dns-names.ts";
import { CgroupNames } from "../src/enrich/cgroups.ts";
import { DeviceNames } from "../src/enrich/devices.ts";
import { hostFacts } from "../src/enrich/host.ts";
import { InterfaceNames } from "../src/enrich/interfaces.ts";
import { UserGroupNames } from "../src/enrich/user-group.ts";
import type { FileFlusher, MapFlusher } from "../src/ingest/expiry.ts";
import type { RecordVisitor, RingReader } from "../src/ingest/ring.ts";
import type { KernelStats } from "../src/ingest/stats.ts";
import { cgroup2MountInfo } from "../src/kernel.ts";
import { BpfFeed, type RecordHandler } from "../src/records/feed.ts";
import {
  FsEvent,
  RecFile,
  RecHdr,
  RecInode,
  RecLimits,
  RecSock,
  RecSockDir,
  RecTask,
  RecType,
  SockRole,
} from "../src/records/layout.gen.ts";
import { DRAIN_MS } from "../src/pipeline.ts";
import { RecordPrinter } from "../src/sink/printer.ts";
import { stdoutSink } from "../src/sink/stdout.ts";

const FRAME_HDR = 8;
const enc = new TextEncoder();

/** Writes a rec_task at off and its two names at tail; returns the names' length. */
function task(v: DataView, b: Uint8Array, off: number, tail: number, pid: number): number {
  v.setUint32(off + RecTask.pid, pid, true);
  v.setUint32(off + RecTask.tid, pid, true);
  v.setUint32(off + RecTask.ppid, 1234, true);
  v.setUint32(off + RecTask.uid, 0, true);
  v.setUint32(off + RecTask.gid, 0, true);
  v.setBigUint64(off + RecTask.startNs, 9_876_543_210_123n, true);
  b.set(enc.encode("kfgen"), off + RecTask.comm);
  v.setBigUint64(off + RecTask.cgroupId, 0n, true);
  const exe = enc.encode("kfgen");
  const parent = enc.encode("bash");
  v.setUint16(off + RecTask.exeLen, exe.length, true);
  v.setUint16(off + RecTask.parentExeLen, parent.length, true);
  b.set(exe, tail);
  b.set(parent, tail + exe.length);
  return exe.length + parent.length;
}

/** A file record of kfgen's at off; returns its size. */
function fileRecord(v: DataView, b: Uint8Array, off: number, i: number, del: boolean): number {
  const tail = off + RecFile.tail;
  const names = task(v, b, off + RecFile.task, tail, 4000 + (i % 3));
  const path = enc.encode(`/dev/shm/kfp/f${i}`);
  b.set(path, tail + names);
  const size = RecFile.tail + names + path.length;
  const now = 10_000_000_000_000n + BigInt(i) * 20_011n;
  v.setUint16(off + RecHdr.type, RecType.REC_TYPE_FILE, true);
  v.setUint16(off + RecHdr.version, RecLimits.REC_VERSION, true);
  v.setUint32(off + RecHdr.size, size, true);
  v.setBigUint64(off + RecHdr.tsNs, now, true);
  v.setBigUint64(off + RecFile.tsFirstNs, now - 7_123n, true);
  v.setBigUint64(off + RecFile.ino, 100_000n + BigInt(i), true);
  v.setUint32(off + RecFile.dev, 27, true);
  const events = del ? [FsEvent.FS_DELETE] : [FsEvent.FS_CREATE, FsEvent.FS_OPEN, FsEvent.FS_MODIFY, FsEvent.FS_CLOSE_WRITE];
  for (const e of events) v.setUint32(off + RecFile.eventCounts + 4 * e, 1, true);
  v.setUint32(off + RecFile.events, events.length, true);
  const ino = off + RecFile.inode;
  v.setUint32(ino + RecInode.mode, 0o100644, true);
  v.setUint32(ino + RecInode.nlink, del ? 0 : 1, true);
  v.setBigUint64(ino + RecInode.size, 64n, true);
  const wall = 1_764_770_000_123_456_789n + BigInt(i) * 20_011n;
  v.setBigUint64(ino + RecInode.atimeNs, wall, true);
  v.setBigUint64(ino + RecInode.mtimeNs, wall + 1_001n, true);
  v.setBigUint64(ino + RecInode.ctimeNs, wall + 1_001n, true);
  v.setBigUint64(off + RecFile.mtimeFirstNs, wall, true);
  v.setUint16(off + RecFile.pathLen, path.length, true);
  return size;
}

/** A TCP socket record of kfgen's on loopback at off; returns its size. */
function sockRecord(v: DataView, b: Uint8Array, off: number, i: number, server: boolean): number {
  const names = task(v, b, off + RecSock.task, off + RecSock.tail, 5000);
  const size = RecSock.tail + names;
  const now = 10_000_000_000_000n + BigInt(i) * 40_013n;
  v.setUint16(off + RecHdr.type, RecType.REC_TYPE_SOCK, true);
  v.setUint16(off + RecHdr.version, RecLimits.REC_VERSION, true);
  v.setUint32(off + RecHdr.size, size, true);
  v.setBigUint64(off + RecHdr.tsNs, now, true);
  v.setBigUint64(off + RecSock.tsFirstNs, now - 31_007n, true);
  v.setBigUint64(off + RecSock.key, 0x4000_0000n + BigInt(i), true);
  v.setUint8(off + RecSock.family, 2);
  v.setUint8(off + RecSock.proto, 6);
  v.setUint8(off + RecSock.type, 1);
  v.setUint8(off + RecSock.role, server ? SockRole.SOCK_ROLE_SERVER : SockRole.SOCK_ROLE_CLIENT);
  v.setUint8(off + RecSock.state, 7);
  v.setUint8(off + RecSock.flags, 1);
  const ephemeral = 32768 + (i % 28000);
  v.setUint16(off + RecSock.lport, server ? 9999 : ephemeral, true);
  v.setUint16(off + RecSock.rport, server ? ephemeral : 9999, true);
  b.set([127, 0, 0, 1], off + RecSock.laddr);
  b.set([127, 0, 0, 1], off + RecSock.raddr);
  for (const [d, pk] of [
    [RecSock.tx, 3],
    [RecSock.rx, 2],
  ] as const) {
    const o = off + d;
    v.setBigUint64(o + RecSockDir.packets, BigInt(pk), true);
    v.setBigUint64(o + RecSockDir.bytes, BigInt(pk * 40), true);
    v.setBigUint64(o + RecSockDir.tsFirstNs, now - 30_000n, true);
    v.setBigUint64(o + RecSockDir.tsLastNs, now - 1_000n, true);
    v.setBigUint64(o + RecSockDir.ttlSum, BigInt(pk * 64), true);
    v.setUint32(o + RecSockDir.ttlPackets, pk, true);
    v.setUint32(o + RecSockDir.ifindex, 1, true);
    v.setUint32(o + RecSockDir.nflags, 2, true);
    v.setUint8(o + RecSockDir.flagOrder, 0x02);
    v.setUint8(o + RecSockDir.flagOrder + 1, 0x10);
    v.setUint32(o + RecSockDir.flagCounts + 4 * 0x02, 1, true);
    v.setUint32(o + RecSockDir.flagCounts + 4 * 0x10, pk - 1, true);
  }
  v.setUint32(off + RecSock.srttUs, 50, true);
  v.setUint32(off + RecSock.rtoMs, 200, true);
  return size;
}

/** One drain's worth of frames as the shim lays them out. */
function batch(kind: "files" | "conns", records: number, first: number): { buf: Uint8Array; used: number } {
  const buf = new Uint8Array(records * (RecFile.SIZE + FRAME_HDR));
  const v = new DataView(buf.buffer);
  let off = 0;
  for (let n = 0; n < records; n++) {
    const i = first + (n >> 1);
    const size =
      kind === "files" ? fileRecord(v, buf, off + FRAME_HDR, i, (n & 1) === 1) : sockRecord(v, buf, off + FRAME_HDR, i, (n & 1) === 1);
    v.setUint32(off, size, true);
    off += (FRAME_HDR + size + 7) & ~7;
  }
  return { buf: buf.slice(0, off), used: off };
}

/** Minor page faults of this process so far. */
function minorFaults(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/** CPU ticks (user + system) per thread name of this process. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]);
    out.set(name, (out.get(name) ?? 0) + ticks);
  }
  return out;
}

const TICK_US = 1e6 / 100;
const kind = (process.argv[2] ?? "both") as "files" | "conns" | "both";
const perRound = Number(process.argv[3] ?? 4000);
const rounds = Number(process.argv[4] ?? 100);
/** KFLOWD_BENCH_PACED=1: one batch per 10 ms (the agent's drain timer), not back to back */
const paced = process.env.KFLOWD_BENCH_PACED === "1";
/** KFLOWD_BENCH_TICK_MS: paced batches this many ms apart instead (a longer drain timer's batches) */
const tickMs = Number(process.env.KFLOWD_BENCH_TICK_MS ?? DRAIN_MS);

/** KFLOWD_BENCH_WRITER=null: the bytes are not even handed to a writer (else Bun's writer of /dev/null, as the agent's stdout) */
const writer =
  process.env.KFLOWD_BENCH_WRITER === "null"
    ? ({ write: (c: Uint8Array) => c.length, flush: () => 0, end: () => 0, unref() {} } as never)
    : Bun.file("/dev/null").writer();
const sink = stdoutSink(writer, { readerGone: () => undefined });
const hierarchy = cgroup2MountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
const printer = new RecordPrinter(
  {
    host: { ...hostFacts(), hostToken: undefined, version: "kflowd-bench" },
    names: new UserGroupNames(),
    devices: new DeviceNames(),
    interfaces: new InterfaceNames(),
    cgroups: new CgroupNames(hierarchy && { ...hierarchy }),
    remoteNames: new RemoteNames(),
  },
  { output: "json-min", width: 120, toStdout: true, stdout: sink, collectors: undefined, lines: [] },
);
/** KFLOWD_BENCH_STAGE=decode: records decoded only, not printed */
const decodeOnly = process.env.KFLOWD_BENCH_STAGE === "decode";
/** KFLOWD_BENCH_STAGE=none: the drains find nothing (the timer's own cost) */
const idle = process.env.KFLOWD_BENCH_STAGE === "none";
const handler: RecordHandler = {
  file: (r) => decodeOnly || printer.file(r, undefined),
  sock: (r) => decodeOnly || printer.sock(r, undefined),
  app() {},
  exit() {},
  malformed() {
    throw new Error("malformed record");
  },
};

const kinds = kind === "both" ? (["files", "conns"] as const) : ([kind] as const);
for (const k of kinds) {
  // distinct records per round, as kfgen's are (new paths, ports, keys)
  const batches = Array.from({ length: 8 }, (_, j) => batch(k, perRound, j * perRound));
  let current = batches[0]!;
  const ring = {
    stoppedEarly: false,
    fillAtDrain: 0,
    lost: 0,
    drain(visit: RecordVisitor): number {
      const view = new DataView(current.buf.buffer);
      let off = 0;
      while (!idle && off + FRAME_HDR <= current.used) {
        const size = view.getUint32(off, true);
        visit(view, current.buf, off + FRAME_HDR, size);
        off += (FRAME_HDR + size + 7) & ~7;
      }
      return perRound;
    },
    fill: () => 0,
    close() {},
  } as unknown as RingReader;
  const settle = { settle: () => true } as unknown as FileFlusher & MapFlusher;
  const feed = new BpfFeed({
    ring,
    files: settle,
    socks: settle,
    stats: () => ({}) as KernelStats,
    skippedRuns: () => new Map(),
    object: { detach() {}, close() {} },
  });
  const drainAll = async (n: number): Promise<void> => {
    const t = performance.now();
    for (let r = 0; r < n; r++) {
      current = batches[r % batches.length]!;
      feed.drain(handler, () => true);
      sink.flush();
      // paced: one drain per DRAIN_MS, as the agent's timer does
      if (paced) await Bun.sleep(Math.max(0, t + (r + 1) * tickMs - performance.now()));
    }
  };
  await drainAll(200); // warm-up: JIT tiers
  Bun.gc(true);
  const faults0 = minorFaults();
  const t0 = threadTicks();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await drainAll(rounds);
  const wall = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const t1 = threadTicks();
  const faults = minorFaults() - faults0;
  const n = rounds * perRound;
  const threads = [...t1]
    .map(([name, t]) => [name, ((t - (t0.get(name) ?? 0)) * TICK_US) / n] as const)
    .filter(([, us]) => us > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `${name} ${us.toFixed(2)}`)
    .join(", ");
  console.log(
    `${k}: ${n} records, process CPU ${(((cpu.user + cpu.system) / n) * 1000).toFixed(0)} ns/record ` +
      `(user ${((cpu.user / n) * 1000).toFixed(0)}, sys ${((cpu.system / n) * 1000).toFixed(0)}), wall ${((wall * 1e6) / n).toFixed(0)} ns/record; ` +
      `per thread µs/record: ${threads}; minor page faults ${(faults / n).toFixed(3)}/record, ` +
      `JS heap ${(jsc.heapSize() / 2 ** 20).toFixed(1)} MiB, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MiB`,
  );
}
