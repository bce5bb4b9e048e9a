// The record path against a fake kernel side (no root, no BPF): routing, the joins of
// application messages, exits, expiry, stdout's pace, the self-test's claim and the stop
// sequence.
import { describe, expect, test } from "bun:test";
import { AppMessages } from "../../src/aggregate/app-messages.ts";
import type { ProcessEnd } from "../../src/ingest/expiry.ts";
import type { KernelStats } from "../../src/ingest/stats.ts";
import { Pipeline, type PipelineOutputs, type PipelineParts, type Printer } from "../../src/pipeline.ts";
import type { AppMessage } from "../../src/records/app.ts";
import type { KernelFeed, RecordHandler } from "../../src/records/feed.ts";
import type { FileRecord } from "../../src/records/file.ts";
import { AppKind, StatId } from "../../src/records/layout.gen.ts";
import type { SockRecord } from "../../src/records/sock.ts";
import { sampleFile, sampleSock, task } from "./format/fixtures.ts";

type Item =
  | { file: FileRecord }
  | { sock: SockRecord }
  | { app: AppMessage }
  | { exit: { pid: number; startNs: bigint; tsNs: bigint } }
  | "bad";

/** A kernel side in memory: a ring of items drained in batches, and maps of pending records. */
class FakeFeed implements KernelFeed {
  ring: Item[] = [];
  /** records still aggregating in the kernel's maps */
  files: FileRecord[] = [];
  socks = new Map<bigint, SockRecord>();
  counters: Partial<KernelStats> = {};
  skipped = new Map<string, number>();
  stoppedEarly = false;
  fillAtDrain = 0;
  detached = false;
  closed = false;
  flushedStale = 0;

  constructor(private readonly batch = 1000) {}

  private deliver(item: Item, to: RecordHandler): void {
    if (item === "bad") to.malformed();
    else if ("file" in item) to.file(item.file);
    else if ("sock" in item) to.sock(item.sock);
    else if ("app" in item) to.app(item.app);
    else to.exit(item.exit);
  }

  drain(to: RecordHandler, keepGoing: () => boolean): void {
    this.stoppedEarly = false;
    while (this.ring.length > 0) {
      for (const item of this.ring.splice(0, this.batch)) this.deliver(item, to);
      if (this.ring.length > 0 && !keepGoing()) {
        this.stoppedEarly = true;
        return;
      }
    }
  }

  flushExited(exits: ReadonlyMap<number, ProcessEnd>, to: RecordHandler): void {
    const ended = this.files.filter((f) => exits.get(f.task.pid)?.startNs === f.task.startNs);
    this.files = this.files.filter((f) => !ended.includes(f));
    for (const f of ended) to.file(f);
  }

  flushStale(nowNs: bigint, idleNs: bigint, _activeNs: bigint, to: RecordHandler): void {
    const stale = this.files.filter((f) => nowNs - f.tsNs >= idleNs);
    this.files = this.files.filter((f) => !stale.includes(f));
    this.flushedStale += stale.length;
    for (const f of stale) to.file(f);
  }

  flushUnsent(): void {}

  flushSocket(key: bigint, _nowNs: bigint, to: RecordHandler): void {
    const s = this.socks.get(key);
    if (s) to.sock(s);
  }

  flushAll(to: RecordHandler, more: () => boolean = () => true): boolean {
    while (this.files.length > 0) {
      if (!more()) return false;
      to.file(this.files.shift()!);
    }
    for (const [key, s] of this.socks) {
      if (!more()) return false;
      this.socks.delete(key);
      to.sock(s);
    }
    return true;
  }

  ringFill(): number {
    return 0;
  }

  stats(): KernelStats & { readonly uncopied: number } {
    const zero = Object.fromEntries(Object.keys(StatId).map((k) => [k, 0])) as KernelStats;
    return { ...zero, ...this.counters, uncopied: 0 };
  }

  skippedRuns(): ReadonlyMap<string, number> {
    return this.skipped;
  }

  detach(): void {
    this.detached = true;
  }

  close(): void {
    this.closed = true;
  }
}

class FakePrinter implements Printer {
  files: FileRecord[] = [];
  socks: { rec: SockRecord; messages: readonly AppMessage[] | undefined }[] = [];
  file(rec: FileRecord): void {
    this.files.push(rec);
  }
  sock(rec: SockRecord, messages: readonly AppMessage[] | undefined): void {
    this.socks.push({ rec, messages });
  }
  get printed(): number {
    return this.files.length + this.socks.length;
  }
}

class FakeOutputs implements PipelineOutputs {
  behind = false;
  gone = false;
  flushes = 0;
  checks = 0;
  closed = false;
  udpFailed = 0;
  /** writes the reader took */
  taken = 0;
  /** a slow reader: takes a write at each of this many looks, then has caught up */
  slowReader = 0;
  holdBack(): boolean {
    return this.behind;
  }
  progress(): number {
    if (this.slowReader > 0 && --this.slowReader === 0) this.behind = false;
    return this.slowReader > 0 ? ++this.taken : this.taken;
  }
  flush(): void {
    this.flushes++;
  }
  check(): void {
    this.checks++;
  }
  allGone(): boolean {
    return this.gone;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  losses() {
    return { udpFailed: this.udpFailed, stdoutDropped: 0, syslogDropped: 0, fileDropped: 0 };
  }
}

function setup(over: Partial<PipelineParts> = {}) {
  const feed = new FakeFeed(2);
  const printer = new FakePrinter();
  const stdout = new FakeOutputs();
  const clock = { ms: 1_000_000, ns: 50_000_000_000n };
  const debug: string[] = [];
  const pipeline = new Pipeline({
    feed,
    printer,
    outputs: stdout,
    messages: new AppMessages(2),
    appCapture: true,
    idleNs: 15_000_000_000n,
    activeNs: 1_800_000_000_000n,
    refresh: [],
    monotonicNs: () => clock.ns,
    // each look at the clock is 10 ms later: waits in the stop sequence end soon
    nowMs: () => (clock.ms += 10),
    debugOut: (l) => debug.push(l),
    ...over,
  });
  return { feed, printer, stdout, clock, debug, pipeline };
}

const fileOf = (pid: number, path: string, tsNs = 1n): FileRecord => ({ ...sampleFile, task: { ...task, pid }, path, tsNs });
const message = (sockKey: bigint, n: number): AppMessage => ({
  sockKey,
  pid: 901,
  tsNs: BigInt(n),
  len: 10,
  rx: false,
  app: AppKind.APP_HTTP,
  data: new Uint8Array([n]),
});

describe("pipeline", () => {
  test("records from the ring buffer are printed in order; malformed ones counted", () => {
    const { feed, printer, pipeline } = setup();
    feed.ring.push({ file: fileOf(1, "/a") }, "bad", { file: fileOf(2, "/b") }, { sock: sampleSock });
    pipeline.drain();
    expect(printer.files.map((f) => f.path)).toEqual(["/a", "/b"]);
    expect(printer.socks.map((s) => s.rec.key)).toEqual([sampleSock.key]);
    expect(pipeline.losses().losses.malformed).toBe(1);
  });

  test("a socket whose message slots filled up is printed at once with them; the rest in a record without its traffic", () => {
    const { feed, printer, pipeline } = setup();
    const key = sampleSock.key;
    // the socket is still open: its record is in the kernel's map
    feed.socks.set(key, sampleSock);
    feed.ring.push({ app: message(key, 1) }, { app: message(key, 2) }, { app: message(key, 3) });
    pipeline.drain();
    expect(printer.socks.map((s) => s.messages!.map((m) => m.data[0]))).toEqual([[1, 2], [3]]);
    expect(printer.socks[0]!.rec.tx.bytes).toBe(sampleSock.tx.bytes);
    expect(printer.socks[1]!.rec.tx.bytes).toBe(0);
    expect(pipeline.losses().losses.appUnclaimed).toBe(0);
  });

  test("a message beyond a record's worth is printed in a record without the socket's traffic again", () => {
    const { feed, printer, pipeline } = setup();
    const key = sampleSock.key;
    feed.ring.push({ app: message(key, 1) }, { app: message(key, 2) }, { app: message(key, 3) });
    pipeline.drain();
    expect(printer.socks).toEqual([]);
    feed.ring.push({ sock: sampleSock });
    pipeline.drain();
    expect(printer.socks.map((s) => s.messages!.length)).toEqual([2, 1]);
    const bare = printer.socks[1]!.rec;
    expect([bare.tx.packets, bare.tx.bytes, bare.rx.packets, bare.rx.bytes]).toEqual([0, 0, 0, 0]);
    expect(bare.key).toBe(key);
  });

  test("the files of an ended process are printed once exits are gathered, and at once when forced", () => {
    const { feed, printer, pipeline } = setup();
    feed.files.push(fileOf(7, "/left-open"), fileOf(8, "/other"));
    feed.ring.push({ exit: { pid: 7, startNs: task.startNs, tsNs: 9n } });
    // the first drain gathers the exit (nothing flushed within EXIT_FLUSH_MS of the start)
    pipeline.drainAll();
    expect(printer.files.map((f) => f.path)).toEqual(["/left-open"]);
    expect(feed.files.map((f) => f.path)).toEqual(["/other"]);
  });

  test("a process that reused the PID keeps its files", () => {
    const { feed, printer, pipeline } = setup();
    feed.files.push(fileOf(7, "/new-process"));
    feed.ring.push({ exit: { pid: 7, startNs: task.startNs + 1n, tsNs: 9n } });
    pipeline.drainAll();
    expect(printer.files).toEqual([]);
  });

  test("while stdout's reader is far behind, the drain timer leaves records in the kernel", () => {
    const { feed, printer, stdout, pipeline } = setup();
    feed.ring.push({ file: fileOf(1, "/a") }, { file: fileOf(1, "/b") }, { file: fileOf(1, "/c") });
    stdout.behind = true;
    pipeline.drainTick();
    expect(printer.files).toEqual([]);
    stdout.behind = false;
    pipeline.drainTick();
    expect(printer.files.map((f) => f.path)).toEqual(["/a", "/b", "/c"]);
  });

  test("a reader falling behind mid-drain stops the drain between batches", () => {
    const { feed, printer, stdout, pipeline } = setup();
    feed.ring.push(...["/a", "/b", "/c", "/d"].map((p) => ({ file: fileOf(1, p) })));
    const realPrint = printer.file.bind(printer);
    printer.file = (rec) => {
      realPrint(rec);
      stdout.behind = printer.files.length >= 2;
    };
    pipeline.drainTick();
    expect(printer.files.map((f) => f.path)).toEqual(["/a", "/b"]);
    expect(feed.stoppedEarly).toBe(true);
  });

  test("the slow timer re-reads caches, watches the kernel side and prints records past the idle timeout", () => {
    let refreshed = 0;
    let watched = 0;
    const { feed, printer, clock, pipeline } = setup({ refresh: [() => refreshed++], watch: () => watched++ });
    feed.files.push(fileOf(1, "/idle", clock.ns - 20_000_000_000n), fileOf(1, "/busy", clock.ns - 1_000_000_000n));
    pipeline.slowTick();
    expect(refreshed).toBe(1);
    expect(watched).toBe(1);
    expect(printer.files.map((f) => f.path)).toEqual(["/idle"]);
  });

  test("the self-test's canary records are its own: never printed, still shown by -D", () => {
    const canary = fileOf(99, "/tmp/kflowd-selftest-x/canary");
    const claimed: FileRecord[] = [];
    const { feed, printer, debug, pipeline } = setup({
      debug: "python3.11",
      selftest: { claimsFile: (r) => r.task.pid === 99 && claimed.push(r) > 0, claimsSock: () => false },
    });
    feed.ring.push({ file: canary }, { file: fileOf(1, "/real") });
    pipeline.drain();
    expect(claimed).toEqual([canary]);
    expect(printer.files.map((f) => f.path)).toEqual(["/real"]);
    expect(debug).toHaveLength(2);
  });

  test("every DNS message teaches the remote names, also one the self-test claims or that no record joins", () => {
    const observed: AppMessage[] = [];
    const { feed, printer, pipeline } = setup({ appCapture: true, remoteNames: { observe: (m) => observed.push(m) } });
    const dns = { ...message(61n, 1), app: AppKind.APP_DNS };
    feed.ring.push({ app: dns }, { app: message(62n, 2) });
    pipeline.drain();
    expect(observed).toEqual([dns, message(62n, 2)]);
    expect(printer.socks).toEqual([]);
  });

  test("records whose cgroup could not be named are a loss of their own", () => {
    const { pipeline } = setup({ cgroups: { unresolved: 5 } });
    expect(pipeline.losses().losses.cgroupsUnresolved).toBe(5);
    expect(setup().pipeline.losses().losses.cgroupsUnresolved).toBe(0);
  });

  test("the slow timer looks for a stdout reader gone quiet; with every output gone the drain timer asks to stop", () => {
    let asked = 0;
    const { feed, printer, stdout, pipeline } = setup({ onAllGone: () => asked++ });
    pipeline.slowTick();
    expect(stdout.checks).toBe(1);
    feed.ring.push({ file: fileOf(1, "/a") });
    stdout.gone = true;
    pipeline.drainTick();
    expect(asked).toBe(1);
    expect(printer.files).toEqual([]);
  });

  test("stop: detached first, the ring drained regardless of the outputs' pace, the maps emptied, outputs closed, once", async () => {
    const { feed, printer, stdout, pipeline } = setup();
    feed.ring.push({ file: fileOf(1, "/in-ring") }, { app: message(5n, 1) });
    feed.files.push(fileOf(1, "/in-map"));
    feed.socks.set(sampleSock.key, sampleSock);
    feed.counters = { STAT_RING_FULL: 2, STAT_PATH_TRUNCATED: 4 };
    stdout.behind = true;
    stdout.udpFailed = 3;
    const report = await pipeline.stop();
    expect(feed.detached).toBe(true);
    expect(printer.files.map((f) => f.path)).toEqual(["/in-ring", "/in-map"]);
    expect(printer.socks.map((s) => s.rec.key)).toEqual([sampleSock.key]);
    expect([stdout.closed, feed.closed]).toEqual([true, true]);
    expect(report).toMatchObject({
      printed: 3,
      losses: { ringFull: 2, udpFailed: 3, appUnclaimed: 1 },
      notes: { pathsCut: 4 },
    });
    expect(await pipeline.stop()).toBeUndefined();
  });

  test("stop: a slow reader that keeps taking output is waited for past STOP_DRAIN_MS", async () => {
    const { feed, printer, stdout, clock, pipeline } = setup();
    feed.ring.push({ file: fileOf(1, "/in-ring") });
    stdout.behind = true;
    stdout.slowReader = 300;
    const t0 = clock.ms;
    await pipeline.stop();
    // 300 looks at 10 ms of the fake clock each: 3 s, not the second a stuck reader gets
    expect(clock.ms - t0).toBeGreaterThan(2900);
    expect(stdout.behind).toBe(false);
    expect(printer.files.map((f) => f.path)).toEqual(["/in-ring"]);
  });

  test("stop: what waits in the maps goes out at a slow reader's pace too", async () => {
    const { feed, printer, stdout, pipeline } = setup();
    feed.files.push(fileOf(1, "/a"), fileOf(1, "/b"), fileOf(1, "/c"));
    stdout.behind = true;
    stdout.slowReader = 50;
    const whileBehind: boolean[] = [];
    const print = printer.file.bind(printer);
    printer.file = (rec) => {
      whileBehind.push(stdout.behind);
      print(rec);
      // each record is more than the reader takes at once: it is behind again
      stdout.behind = true;
      stdout.slowReader = 5;
    };
    await pipeline.stop();
    expect(printer.files.map((f) => f.path)).toEqual(["/a", "/b", "/c"]);
    // none was pushed at a reader that was behind
    expect(whileBehind).toEqual([false, false, false]);
  });
});
