/**
 * Records to a local NDJSON file (one record per line), for log shippers that tail it
 * (Filebeat, Fluent Bit, Vector). A drained batch goes to the file in one write(2),
 * appended (O_APPEND), off the record path (the write runs while the next batch gathers);
 * records gathered while a write is under way wait for the next one. Past HOLD_BACK_BYTES
 * the agent stops draining the ring buffer for a while (records wait in the kernel, as for
 * a slow stdout reader); past MAX_HELD_BYTES they are dropped and counted.
 *
 * No torn line: the file is rotated only between writes, and each write holds whole lines.
 * A write that fails half-way (ENOSPC, EIO) is cut off again (ftruncate to the size before
 * it) and its records counted as dropped. A crash of the agent in the middle of a write can
 * leave part of a line at the end; at start that incomplete last line is removed (it was
 * never a record anyone could read), and said.
 *
 * Rotation by size, by renaming as logrotate does (the shipper follows the inode):
 * PATH.N-1 -> PATH.N, ..., PATH -> PATH.1, then a new PATH. A file exceeds the size only
 * when a single batch is larger than it.
 */
import { type FileHandle, lstat, open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { SetupError } from "../../ffi/errors.ts";
import type { OutputFileConfig } from "../config.ts";
import { copyBytes, JsonBytes } from "../format/json-bytes.ts";
import type { LineOutput, OutputStatus } from "./line-output.ts";

/** most records held while a write is under way (about 8 MiB of JSON) */
export const MAX_HELD_BYTES = 8 << 20;
/** writes this far behind (bytes waiting) make holdBack() true, records wait in the kernel... */
const HOLD_BACK_BYTES = 4 << 20;
/** ...for at most this long at a time */
const MAX_HOLD_BACK_MS = 5000;
/** the batch buffer's size; larger batches grow it, and it shrinks back after the write */
const BUFFER_BYTES = 1 << 20;
/** records are readable by root and its group (a shipper's group, e.g. adm) */
const FILE_MODE = 0o640;

/** Where the incomplete last line of a file starts (its size if the last line is whole). */
async function lastWholeLineEnd(fh: FileHandle, size: number): Promise<number> {
  const block = new Uint8Array(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - block.length);
    const { bytesRead } = await fh.read(block, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) if (block[i] === 10) return start + i + 1;
    end = start;
  }
  return 0;
}

/**
 * Opens PATH for appending; an incomplete last line left by a crash is cut off. Anything
 * but a regular file (/dev/null, a FIFO a shipper reads) is written to as it is: never
 * cut, never rotated (rotating renames and removes: a device node must never be moved).
 */
async function openAppend(path: string, notice: (line: string) => void): Promise<{ fh: FileHandle; size: number; regular: boolean }> {
  let fh: FileHandle;
  try {
    fh = await open(path, "a+", FILE_MODE);
  } catch (e) {
    throw new SetupError(`option --output-file: cannot open ${path}: ${(e as { code?: string }).code ?? String(e)}`);
  }
  const st = await fh.stat();
  if (!st.isFile()) return { fh, size: 0, regular: false };
  const size = st.size;
  const whole = size > 0 ? await lastWholeLineEnd(fh, size) : 0;
  if (whole < size) {
    await fh.truncate(whole);
    notice(`kflowd: output file ${path}: removed an incomplete last line (${size - whole} bytes) left by an earlier run\n`);
  }
  return { fh, size: whole, regular: true };
}

export async function fileOutput(
  config: OutputFileConfig,
  notice: (line: string) => void = (line) => process.stderr.write(line),
): Promise<LineOutput> {
  const { path, maxBytes, keep } = config;
  const dir = dirname(path);
  const rotatedPrefix = `${basename(path)}.`;
  let { fh, size, regular } = await openAppend(path, notice);
  /** records gathered for the next write, and the buffer the last write used */
  let out = new JsonBytes(BUFFER_BYTES);
  let spare = new JsonBytes(BUFFER_BYTES);
  let inBuffer = 0;
  let writing: Promise<void> | undefined;
  let written = 0;
  let dropped = 0;
  let up = true;
  /** the error last said (said again only when it changes) */
  let lastError = "";
  let heldSaid = false;
  /** since when holdBack() has said true, 0 when it does not */
  let holdingSince = 0;

  function trouble(what: string, e: unknown): void {
    const code = (e as { code?: string } | null)?.code ?? (e instanceof Error ? e.message : String(e));
    const text = `${what}: ${code}`;
    if (text === lastError) return;
    lastError = text;
    notice(`kflowd: output file ${path}: ${text}\n`);
  }

  /**
   * PATH.N-1 -> PATH.N, ..., PATH -> PATH.1 (the files there, looked up once), and a new
   * PATH; rotated files beyond KEEP are removed. On failure (false) the old file goes on.
   */
  async function rotate(): Promise<boolean> {
    try {
      const there = (await readdir(dir))
        .filter((name) => name.startsWith(rotatedPrefix) && /^[1-9][0-9]*$/.test(name.slice(rotatedPrefix.length)))
        .map((name) => Number(name.slice(rotatedPrefix.length)))
        .sort((a, b) => b - a);
      for (const i of there) {
        // only files this output made are moved or removed
        if (!(await lstat(`${path}.${i}`)).isFile()) continue;
        if (i >= keep) await unlink(`${path}.${i}`);
        else await rename(`${path}.${i}`, `${path}.${i + 1}`);
      }
      await rename(path, `${path}.1`);
    } catch (e) {
      trouble("cannot rotate (records go on to the file as it is)", e);
      return false;
    }
    const old = fh;
    ({ fh, size, regular } = await openAppend(path, notice));
    await old.close();
    return true;
  }

  /** Lines (newlines) in buf[from, to). */
  function linesIn(buf: Uint8Array, from: number, to: number): number {
    let n = 0;
    for (let i = from; i < to; i++) if (buf[i] === 10) n++;
    return n;
  }

  /**
   * One batch: one write(2) to the file, unless the file would pass its size: then the
   * lines that fit go into it, the file is rotated, and the rest goes on into the new one
   * (a line longer than the size goes whole into a file of its own).
   */
  async function writeBatch(batch: JsonBytes, records: number): Promise<void> {
    const buf = batch.buf;
    let off = 0;
    while (off < batch.pos) {
      let end = batch.pos;
      if (regular && size + end - off > maxBytes) {
        const cut = size < maxBytes ? buf.lastIndexOf(10, off + (maxBytes - size) - 1) : -1;
        if (cut >= off) end = cut + 1;
        else if (size > 0 && (await rotate())) continue;
        // a line longer than the size, into an empty file: that line alone
        else if (size === 0) end = buf.indexOf(10, off) + 1;
      }
      let at = off;
      try {
        while (at < end) at += (await fh.write(buf, at, end - at)).bytesWritten;
      } catch (e) {
        const lost = linesIn(buf, off, batch.pos);
        up = false;
        dropped += lost;
        written += records - lost;
        trouble(`write failed, ${lost} records dropped (counted)`, e);
        // part of the lines may be in the file: cut them off, so that no line is torn
        if (at > off) await fh.truncate(size).catch(() => {});
        return;
      }
      size += end - off;
      off = end;
    }
    written += records;
    up = true;
    lastError = "";
  }

  async function writeLoop(): Promise<void> {
    while (out.pos > 0) {
      const batch = out;
      const records = inBuffer;
      out = spare;
      spare = batch;
      inBuffer = 0;
      await writeBatch(batch, records);
      batch.reset(Math.min(batch.buf.length, BUFFER_BYTES));
    }
    writing = undefined;
  }

  function flush(): void {
    if (writing || out.pos === 0) return;
    writing = writeLoop();
  }

  return {
    line(bytes: Uint8Array, start: number, end: number): void {
      const n = end - start;
      if (writing && out.pos + n + 1 > MAX_HELD_BYTES) {
        dropped++;
        if (!heldSaid) {
          heldSaid = true;
          notice(
            `kflowd: output file ${path}: writes are ${MAX_HELD_BYTES >> 20} MiB behind; records are dropped until they catch up (counted)\n`,
          );
        }
        return;
      }
      out.ensure(n + 1);
      copyBytes(bytes, start, end, out.buf, out.pos);
      out.pos += n;
      out.buf[out.pos++] = 10;
      inBuffer++;
    },
    flush,
    async close(waitMs: number): Promise<void> {
      flush();
      const deadline = Date.now() + waitMs;
      while (writing && Date.now() < deadline) {
        await Promise.race([writing, Bun.sleep(20)]);
        flush();
      }
      // a write still under way finishes on its own; what waited for the next one is lost
      dropped += inBuffer;
      inBuffer = 0;
      out.reset();
      if (!writing) await fh.close();
    },
    holdBack(): boolean {
      if (!writing || out.pos < HOLD_BACK_BYTES) {
        holdingSince = 0;
        return false;
      }
      const now = Date.now();
      if (holdingSince === 0) holdingSince = now;
      return now - holdingSince < MAX_HOLD_BACK_MS;
    },
    status(): OutputStatus {
      return { output: "file", target: path, up, records: written, dropped, queuedBytes: out.pos };
    },
  };
}
