/**
 * Records to standard output, buffered and handed to the writer once per drained batch:
 * records are formatted (or encoded) into one byte buffer and the writer gets that
 * buffer as one chunk at flush(), or every CHUNK_BYTES during a large batch. A reader
 * that does not keep up never blocks the agent and never grows its memory without bound:
 * while a write or flush waits for the pipe, records are held up to MAX_HELD_BYTES and
 * dropped beyond it; a reader that went away (EPIPE) or any other write error ends
 * output to stdout. Records not written either way are counted in `dropped`, never fatal
 * here: when stdout is the agent's only output, the agent stops once it is gone.
 */
import { writeEndGone } from "../../ffi/poll.ts";
import { JsonBytes } from "../format/json-bytes.ts";

export interface Sink {
  /** one record (or line) of text, including its separator */
  write(text: string): void;
  /**
   * The buffer the next record is formatted into, at its end (UTF-8, separator
   * included); end() then takes it as one record. Nothing else may be written between.
   */
  begin(): JsonBytes;
  /** takes what was formatted since begin() as one record: kept, held or dropped */
  end(): void;
  /** hands what was written to the kernel; returns at once if the reader is behind */
  flush(): void;
  /** flushes what is left, waiting for the reader at most `waitMs`, then closes */
  close(waitMs?: number): Promise<void>;
  /** records not written: the reader was too slow (held records over the bound) or gone */
  readonly dropped: number;
  /** records taken (written, or waiting to be; those lost later are also in dropped) */
  readonly records: number;
  /** bytes waiting in the agent for the reader */
  readonly queuedBytes: number;
  /** writes the reader finished taking after waiting for it: grows while a slow reader keeps taking output */
  readonly progress: number;
  /** why stdout stopped taking records, if it did (e.g. "EPIPE") */
  readonly failure: string | undefined;
  /**
   * Whether the reader is so far behind that records should wait upstream (in the
   * kernel) for now. A slow reader holds them back as long as it keeps taking output; a
   * stuck one (nothing taken for MAX_STUCK_MS) no longer does, so it cannot hold them forever.
   */
  holdBack(): boolean;
  /**
   * Looks whether the reader went away while nothing was written (a pipe whose reader
   * closed, a terminal hung up); if so, output to stdout ends as on a failed write.
   */
  checkReader(): void;
}

/** most output held while the reader is behind; about 8 MiB of JSON (~7000 records) */
export const MAX_HELD_BYTES = 8 << 20;
/** a reader this far behind (bytes held) makes holdBack() true... */
const HOLD_BACK_BYTES = 4 << 20;
/** ...unless it has taken nothing for this long */
const MAX_STUCK_MS = 5000;
/** how long close() waits for a slow reader before the rest is counted as dropped */
const CLOSE_WAIT_MS = 1000;
/** a batch larger than this goes to the writer in chunks of about this size */
const CHUNK_BYTES = 1 << 20;
/** the buffer's size; it grows while records are held, and shrinks back once written */
const BUFFER_BYTES = 2 * CHUNK_BYTES;

/** The part of Bun's FileSink the sink uses; tests substitute their own. */
export interface Writer {
  /** copies what it does not write at once (Bun's FileSink does): the chunk is reused */
  write(chunk: Uint8Array): number | Promise<number>;
  flush(): number | Promise<number>;
  end(): number | Promise<number>;
  unref(): void;
}

/** What the sink needs to know besides the writer; tests substitute their own. */
export interface StdoutOptions {
  readonly maxHeldBytes?: number;
  /** gets the one line said when stdout stops taking records (by default on stderr) */
  readonly notice?: (line: string) => void;
  /** stdout is the only output: when its reader is gone the agent stops (and says so) */
  readonly alone?: boolean;
  /** why the reader is gone, if it is, seen without writing (default: poll(2) on fd 1) */
  readonly readerGone?: () => string | undefined;
  /** the clock of holdBack(), ms (tests pass their own) */
  readonly nowMs?: () => number;
}

/** The sink on the agent's stdout. */
export function stdoutSink(writer: Writer = Bun.stdout.writer(), options: StdoutOptions = {}): Sink {
  const maxHeldBytes = options.maxHeldBytes ?? MAX_HELD_BYTES;
  const notice = options.notice ?? ((line: string) => process.stderr.write(line));
  const readerGone = options.readerGone ?? (() => writeEndGone(1));
  const nowMs = options.nowMs ?? Date.now;
  /** close() began: a failure now is the end of a stop, not a reason for one */
  let closing = false;
  /** the records not handed to the writer yet: held while `pending` */
  const out = new JsonBytes(BUFFER_BYTES);
  /** where the record being formatted starts in `out` */
  let recordStart = 0;
  /** records in `out` */
  let inBuffer = 0;
  /** records handed to the writer since its last completed flush */
  let inWriter = 0;
  /** the write or flush the reader has not taken yet */
  let pending: Promise<void> | undefined;
  let dropped = 0;
  let taken = 0;
  let failure: string | undefined;
  /** the reader fell behind by more than the bound at least once (said once) */
  let behind = false;
  /** while holdBack() says true: since when the reader has taken nothing (else 0) */
  let stuckSince = 0;
  /** waited-for writes and flushes the reader took */
  let progress = 0;

  function fail(e: unknown): void {
    if (failure === undefined) {
      failure = (e as { code?: string } | null)?.code ?? (e instanceof Error ? e.message : String(e));
      notice(
        options.alone && !closing
          ? `kflowd: stdout: ${failure}; its reader is gone and it is the only output: stopping\n`
          : `kflowd: stdout: ${failure}; records are no longer printed there (counted as dropped)\n`,
      );
    }
    dropped += inWriter + inBuffer;
    inWriter = 0;
    inBuffer = 0;
    out.reset(BUFFER_BYTES);
    pending = undefined;
    // nothing more will be written: pending bytes must not keep the agent from exiting
    try {
      writer.unref();
    } catch {}
  }

  /** Waits for a write or flush the pipe could not take at once. */
  function wait(p: Promise<number>): void {
    const mine = p.then(
      () => {
        if (pending !== mine) return;
        // the reader took what was waiting: it is slow, not stuck
        progress++;
        if (stuckSince !== 0) stuckSince = nowMs();
        pending = undefined;
        inWriter = 0;
        if (inBuffer > 0) flush();
      },
      (e: unknown) => {
        if (pending === mine) fail(e);
      },
    );
    pending = mine;
  }

  /** Hands the buffered records to the writer (unless it is waiting for the reader). */
  function hand(): void {
    if (failure !== undefined || pending || inBuffer === 0) return;
    inWriter += inBuffer;
    inBuffer = 0;
    try {
      // the writer flushes by itself past its buffer size; that flush may have to wait
      const r = writer.write(out.bytes());
      if (typeof r !== "number") wait(r);
    } catch (e) {
      fail(e);
      return;
    }
    out.reset(Math.min(out.buf.length, BUFFER_BYTES));
  }

  function begin(): JsonBytes {
    recordStart = out.pos;
    return out;
  }

  function end(): void {
    if (failure !== undefined) {
      out.pos = recordStart;
      dropped++;
      return;
    }
    if (pending) {
      if (out.pos > maxHeldBytes) {
        out.pos = recordStart;
        if (!behind) {
          behind = true;
          notice(`kflowd: stdout: the reader is ${maxHeldBytes >> 20} MiB behind; records are dropped until it catches up (counted)\n`);
        }
        dropped++;
        return;
      }
      inBuffer++;
      taken++;
      return;
    }
    inBuffer++;
    taken++;
    if (out.pos >= CHUNK_BYTES) hand();
  }

  function flush(): void {
    hand();
    if (failure !== undefined || pending || inWriter === 0) return;
    try {
      const r = writer.flush();
      if (typeof r === "number") inWriter = 0;
      else wait(r);
    } catch (e) {
      fail(e);
    }
  }

  return {
    write(text: string): void {
      begin().text(text);
      end();
    },
    begin,
    end,
    flush,
    async close(waitMs = CLOSE_WAIT_MS): Promise<void> {
      closing = true;
      // a reader that keeps taking output gets all of it; one that takes nothing for waitMs does not
      let deadline = Date.now() + waitMs;
      let seen = progress;
      flush();
      while ((pending || inBuffer > 0) && failure === undefined && Date.now() < deadline) {
        await Promise.race([pending ?? Promise.resolve(), Bun.sleep(20)]);
        flush();
        if (progress !== seen) {
          seen = progress;
          deadline = Date.now() + waitMs;
        }
      }
      if (failure !== undefined) return;
      if (pending || inBuffer > 0 || inWriter > 0) {
        // the reader is stuck: what it has not taken is dropped, not waited for forever
        fail(new Error("the reader did not take the last records"));
        return;
      }
      try {
        const r = writer.end();
        if (typeof r !== "number") await r;
      } catch (e) {
        fail(e);
      }
    },
    get dropped() {
      return dropped;
    },
    get records() {
      return taken;
    },
    get queuedBytes() {
      return out.pos;
    },
    get progress() {
      return progress;
    },
    get failure() {
      return failure;
    },
    holdBack(): boolean {
      if (failure !== undefined || !pending || out.pos < HOLD_BACK_BYTES) {
        stuckSince = 0;
        return false;
      }
      const now = nowMs();
      if (stuckSince === 0) stuckSince = now;
      return now - stuckSince < MAX_STUCK_MS;
    },
    checkReader(): void {
      if (failure !== undefined || closing) return;
      const why = readerGone();
      if (why !== undefined) fail(Object.assign(new Error(why), { code: why }));
    },
  };
}
