import { describe, expect, test } from "bun:test";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { writeEndGone } from "../../../ffi/poll.ts";
import { type Sink, stdoutSink, type Writer } from "../../../src/sink/stdout.ts";

const decoder = new TextDecoder();

/**
 * A writer standing in for Bun's FileSink on a pipe: it takes everything at once
 * (returns numbers), or, once `stall()` is called, answers every write and flush with a
 * promise the test settles (`release()` / `break()`).
 */
class FakeWriter implements Writer {
  /** what reached the "pipe", in order */
  text = "";
  writes = 0;
  flushes = 0;
  ended = false;
  unrefs = 0;
  throwOnWrite: Error | undefined;
  private stalled = false;
  private waiting: { resolve: (n: number) => void; reject: (e: unknown) => void }[] = [];

  write(chunk: Uint8Array): number | Promise<number> {
    if (this.throwOnWrite) throw this.throwOnWrite;
    this.writes++;
    // the sink reuses its buffer: what is kept must be a copy (Bun's FileSink copies)
    this.text += decoder.decode(chunk);
    return this.answer();
  }

  flush(): number | Promise<number> {
    this.flushes++;
    return this.answer();
  }

  end(): number {
    this.ended = true;
    return 0;
  }

  unref(): void {
    this.unrefs++;
  }

  stall(): void {
    this.stalled = true;
  }

  /** the reader catches up: pending writes and flushes complete */
  async release(): Promise<void> {
    this.stalled = false;
    const w = this.waiting;
    this.waiting = [];
    for (const p of w) p.resolve(0);
    await Bun.sleep(0);
  }

  /** the reader goes away: pending writes and flushes fail with EPIPE */
  async break(): Promise<void> {
    const w = this.waiting;
    this.waiting = [];
    for (const p of w) p.reject(Object.assign(new Error("broken pipe"), { code: "EPIPE" }));
    await Bun.sleep(0);
  }

  private answer(): number | Promise<number> {
    if (!this.stalled) return 0;
    return new Promise<number>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
}

function make(maxHeld?: number, alone = false): { sink: Sink; w: FakeWriter; notices: string[]; gone: { why?: string } } {
  const w = new FakeWriter();
  const notices: string[] = [];
  const gone: { why?: string } = {};
  const sink = stdoutSink(w, { maxHeldBytes: maxHeld, notice: (line) => notices.push(line), alone, readerGone: () => gone.why });
  return { sink, w, notices, gone };
}

const rec = (i: number): string => `{"InfoSequenceNumber": ${i}}\n`;

describe("stdout sink", () => {
  test("records reach the writer in order, all of them by the flush", () => {
    const { sink, w } = make();
    for (let i = 1; i <= 100; i++) sink.write(rec(i));
    sink.flush();
    let want = "";
    for (let i = 1; i <= 100; i++) want += rec(i);
    expect(w.text).toBe(want);
    expect(sink.dropped).toBe(0);
    expect(sink.failure).toBeUndefined();
  });

  test("a batch goes to the writer as one chunk and one flush; a large one in chunks of about 1 MiB", () => {
    const { sink, w } = make();
    for (let i = 1; i <= 1000; i++) sink.write(rec(i));
    sink.flush();
    expect(w.writes).toBe(1);
    expect(w.flushes).toBe(1);
    sink.flush();
    expect(w.writes).toBe(1);
    const line = `${"x".repeat(1023)}\n`;
    for (let i = 0; i < 4096; i++) sink.write(line);
    sink.flush();
    expect(w.writes).toBe(5);
    expect(w.flushes).toBe(2);
    expect(w.text.length).toBe(rec(1).length * 9 + rec(10).length * 90 + rec(100).length * 900 + rec(1000).length + 4096 * 1024);
  });

  test("records formatted into the buffer count like written ones", () => {
    const { sink, w } = make();
    const out = sink.begin();
    out.text('{"a": 1}\n');
    sink.end();
    sink.write(rec(2));
    sink.flush();
    expect(w.text).toBe(`{"a": 1}\n${rec(2)}`);
  });

  test("non-ASCII text reaches the writer as UTF-8, unchanged", () => {
    const { sink, w } = make();
    const line = '{"File": "na\u00efve \u6587\u4ef6 \ud83d\ude00 \ufffd"}\n';
    sink.write(line);
    sink.flush();
    expect(w.text).toBe(line);
  });

  test("while a flush waits for the reader, records are held, then written in order", async () => {
    const { sink, w } = make();
    w.stall();
    sink.write(rec(1));
    sink.flush();
    for (let i = 2; i <= 10; i++) sink.write(rec(i));
    sink.flush();
    await w.release();
    sink.flush();
    let want = "";
    for (let i = 1; i <= 10; i++) want += rec(i);
    expect(w.text).toBe(want);
    expect(sink.dropped).toBe(0);
  });

  test("held text beyond the bound is dropped, counted in records, said once", async () => {
    const line = rec(1);
    const { sink, w, notices } = make(line.length * 5);
    w.stall();
    sink.write(line);
    sink.flush();
    // the first is with the writer; five fit the bound, the other four are dropped
    for (let i = 0; i < 9; i++) sink.write(line);
    expect(sink.dropped).toBe(4);
    expect(notices.filter((n) => n.includes("behind"))).toHaveLength(1);
    await w.release();
    sink.flush();
    expect(w.text).toBe(line.repeat(6));
    expect(sink.dropped).toBe(4);
  });

  test("EPIPE ends output: records with the writer, held and later ones are counted dropped", async () => {
    const { sink, w, notices } = make();
    w.stall();
    sink.write(rec(1));
    sink.write(rec(2));
    sink.flush();
    sink.write(rec(3));
    await w.break();
    expect(sink.failure).toBe("EPIPE");
    expect(sink.dropped).toBe(3);
    expect(w.unrefs).toBe(1);
    sink.write(rec(4));
    sink.flush();
    expect(sink.dropped).toBe(4);
    expect(notices.filter((n) => n.includes("EPIPE"))).toHaveLength(1);
    await sink.close(50);
    expect(sink.dropped).toBe(4);
  });

  test("the only output: EPIPE says the agent stops; with other outputs it says records go on without stdout", async () => {
    for (const alone of [true, false]) {
      const { sink, w, notices } = make(undefined, alone);
      w.stall();
      sink.write(rec(1));
      sink.flush();
      await w.break();
      expect(notices).toEqual([
        alone
          ? "kflowd: stdout: EPIPE; its reader is gone and it is the only output: stopping\n"
          : "kflowd: stdout: EPIPE; records are no longer printed there (counted as dropped)\n",
      ]);
    }
  });

  test("checkReader(): a reader gone while nothing is written ends output as a failed write would", () => {
    const { sink, w, notices, gone } = make(undefined, true);
    sink.checkReader();
    expect(sink.failure).toBeUndefined();
    sink.write(rec(1));
    gone.why = "EPIPE";
    sink.checkReader();
    expect(sink.failure).toBe("EPIPE");
    expect(sink.dropped).toBe(1);
    expect(w.text).toBe("");
    sink.checkReader();
    expect(notices).toEqual(["kflowd: stdout: EPIPE; its reader is gone and it is the only output: stopping\n"]);
  });

  test("a writer that throws ends output the same way", () => {
    const { sink, w } = make();
    w.throwOnWrite = Object.assign(new Error("bad fd"), { code: "EBADF" });
    sink.write(rec(1));
    sink.flush();
    sink.write(rec(2));
    sink.flush();
    expect(sink.failure).toBe("EBADF");
    expect(sink.dropped).toBe(2);
  });

  test("close() writes what is left and ends the writer", async () => {
    const { sink, w } = make();
    sink.write(rec(1));
    await sink.close(50);
    expect(w.text).toBe(rec(1));
    expect(w.ended).toBe(true);
    expect(sink.dropped).toBe(0);
  });

  test("close() waits for a slow reader that catches up", async () => {
    const { sink, w } = make();
    w.stall();
    sink.write(rec(1));
    sink.flush();
    sink.write(rec(2));
    setTimeout(() => void w.release(), 30);
    await sink.close(1000);
    expect(w.text).toBe(rec(1) + rec(2));
    expect(w.ended).toBe(true);
    expect(sink.dropped).toBe(0);
  });

  test("close(waitMs) gives up on a stuck reader: what it did not take is dropped", async () => {
    const { sink, w } = make();
    w.stall();
    sink.write(rec(1));
    sink.flush();
    sink.write(rec(2));
    sink.write(rec(3));
    const t0 = Date.now();
    await sink.close(100);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(sink.dropped).toBe(3);
    expect(sink.failure).toBeDefined();
    expect(w.ended).toBe(false);
  });

  test("holdBack() once the reader is megabytes behind, never while it keeps up", async () => {
    const { sink, w } = make();
    const line = `${"x".repeat(1023)}\n`;
    for (let i = 0; i < 6000; i++) sink.write(line);
    sink.flush();
    expect(sink.holdBack()).toBe(false);
    w.stall();
    sink.write(line);
    sink.flush();
    for (let i = 0; i < 5000; i++) sink.write(line);
    expect(sink.holdBack()).toBe(true);
    await w.release();
    sink.flush();
    expect(sink.holdBack()).toBe(false);
    expect(sink.dropped).toBe(0);
    expect(w.text.length).toBe(line.length * 11001);
  });

  test("holdBack() holds for a slow reader as long as it takes something, not for a stuck one", async () => {
    const w = new FakeWriter();
    let now = 1_000_000;
    const sink = stdoutSink(w, { notice: () => {}, readerGone: () => undefined, nowMs: () => now });
    const line = `${"x".repeat(1023)}\n`;
    const behind = (): void => {
      w.stall();
      sink.write(line);
      sink.flush();
      for (let i = 0; i < 5000; i++) sink.write(line);
    };
    behind();
    expect(sink.holdBack()).toBe(true);
    now += 4000;
    // the reader takes what waited, then falls behind again
    await w.release();
    sink.flush();
    behind();
    expect(sink.holdBack()).toBe(true);
    now += 4000; // 8 s since holding began, 4 s since the reader last took anything
    expect(sink.holdBack()).toBe(true);
    now += 1500; // stuck for 5.5 s
    expect(sink.holdBack()).toBe(false);
    await w.release();
    sink.flush();
    expect(sink.dropped).toBe(0);
  });
});

describe("writeEndGone (poll on the write end)", () => {
  test("a FIFO whose reader closed is gone (EPIPE); with its reader, or /dev/null, it is not", () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-poll-`);
    try {
      const fifo = `${dir}/f`;
      expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
      const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const w = openSync(fifo, constants.O_WRONLY);
      expect(writeEndGone(w)).toBeUndefined();
      closeSync(r);
      expect(writeEndGone(w)).toBe("EPIPE");
      closeSync(w);
      const devNull = openSync("/dev/null", "w");
      expect(writeEndGone(devNull)).toBeUndefined();
      closeSync(devNull);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
