// The NDJSON file output: lines appended per batch, rotation by size with every line whole
// and none missing across the files, an incomplete last line left by a crash removed at
// start, a failing device counted, and a directory that does not exist named.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { SetupError } from "../../../ffi/errors.ts";
import { fileOutput } from "../../../src/sink/file.ts";
import type { LineOutput } from "../../../src/sink/line-output.ts";

const dir = mkdtempSync(`${tmpdir()}/kflowd-file-unit-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const encoder = new TextEncoder();

function send(out: LineOutput, seq: number, pad = 100): void {
  const b = encoder.encode(JSON.stringify({ seq, pad: "p".repeat(pad) }));
  out.line(b, 0, b.length);
}

/** Waits until the output has written (or dropped) `records` records. */
async function settle(out: LineOutput, records: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const s = out.status();
    if (s.records + s.dropped >= records) return;
    await Bun.sleep(2);
  }
  throw new Error(`the output did not write ${records} records`);
}

/** The lines of a file, each parsed (a torn line throws). */
function lines(path: string): { seq: number }[] {
  const text = readFileSync(path, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text
    .split("\n")
    .slice(0, -1)
    .map((l) => JSON.parse(l) as { seq: number });
}

describe("output file", () => {
  test("records are appended one per line, after what the file held", async () => {
    const path = `${dir}/plain.json`;
    writeFileSync(path, '{"seq": -1}\n');
    const notices: string[] = [];
    const out = await fileOutput({ path, maxBytes: 1 << 20, keep: 2 }, (l) => notices.push(l));
    for (let i = 0; i < 10; i++) send(out, i);
    out.flush();
    for (let i = 10; i < 20; i++) send(out, i);
    out.flush();
    await settle(out, 20);
    await out.close(1000);
    expect(lines(path).map((r) => r.seq)).toEqual([-1, ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(out.status()).toMatchObject({ output: "file", target: path, up: true, records: 20, dropped: 0 });
    expect(notices).toEqual([]);
  });

  test("rotation by size: PATH.1 newest, KEEP files kept (older ones removed), every line whole, none missing across them", async () => {
    const path = `${dir}/rot.json`;
    // left by an earlier run that kept more
    writeFileSync(`${path}.9`, "{}\n");
    const out = await fileOutput({ path, maxBytes: 64 * 1024, keep: 3 }, () => {});
    let seq = 0;
    // batches of ~13 KB: a rotation every five
    for (let batch = 0; batch < 40; batch++) {
      for (let i = 0; i < 100; i++) send(out, seq++);
      out.flush();
      await settle(out, seq);
    }
    await out.close(1000);
    const files = [path, `${path}.1`, `${path}.2`, `${path}.3`];
    expect(files.map(existsSync)).toEqual([true, true, true, true]);
    expect(existsSync(`${path}.4`)).toBe(false);
    expect(existsSync(`${path}.9`)).toBe(false);
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(64 * 1024);
    // oldest to newest, the sequence numbers continue from file to file up to the last record
    const all = [...files].reverse().flatMap((f) => lines(f).map((r) => r.seq));
    expect(all.at(-1)).toBe(seq - 1);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => all[0]! + i));
    expect(all.length).toBeGreaterThan(4 * 300);
    // new files are made readable by root and its group only
    expect(statSync(path).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  test("a batch larger than the size is split at lines over several files; a longer line gets a file of its own", async () => {
    const path = `${dir}/split.json`;
    const out = await fileOutput({ path, maxBytes: 10_000, keep: 100 }, () => {});
    let seq = 0;
    for (let i = 0; i < 300; i++) send(out, seq++);
    send(out, seq++, 25_000);
    for (let i = 0; i < 10; i++) send(out, seq++);
    out.flush();
    await settle(out, seq);
    await out.close(1000);
    const files = Array.from({ length: 100 }, (_, i) => `${path}.${100 - i}`)
      .filter(existsSync)
      .concat(path);
    const sizes = files.map((f) => statSync(f).size);
    // {"seq":300,"pad":"ppp..."} and its newline
    expect(sizes.filter((n) => n > 10_000)).toEqual([`{"seq":300,"pad":""}\n`.length + 25_000]);
    expect(files.flatMap((f) => lines(f).map((r) => r.seq))).toEqual(Array.from({ length: seq }, (_, i) => i));
  });

  test("an incomplete last line left by a crash is removed at start, and said", async () => {
    const path = `${dir}/torn.json`;
    writeFileSync(path, '{"seq": 1}\n{"seq": 2}\n{"seq": 3, "pa');
    const notices: string[] = [];
    const out = await fileOutput({ path, maxBytes: 1 << 20, keep: 1 }, (l) => notices.push(l));
    send(out, 4);
    out.flush();
    await settle(out, 1);
    await out.close(1000);
    expect(lines(path).map((r) => r.seq)).toEqual([1, 2, 4]);
    expect(notices).toEqual([`kflowd: output file ${path}: removed an incomplete last line (14 bytes) left by an earlier run\n`]);
  });

  test("a file holding one incomplete line only is emptied", async () => {
    const path = `${dir}/only-torn.json`;
    writeFileSync(path, "x".repeat(200_000));
    const out = await fileOutput({ path, maxBytes: 1 << 20, keep: 1 }, () => {});
    await out.close(1000);
    expect(readFileSync(path, "utf8")).toBe("");
  });

  test("a device that refuses writes (ENOSPC): the records are counted as dropped, said once", async () => {
    const notices: string[] = [];
    const out = await fileOutput({ path: "/dev/full", maxBytes: 1 << 20, keep: 1 }, (l) => notices.push(l));
    for (let batch = 0; batch < 3; batch++) {
      for (let i = 0; i < 10; i++) send(out, i);
      out.flush();
      await settle(out, 10 * (batch + 1));
    }
    await out.close(1000);
    expect(out.status()).toMatchObject({ up: false, records: 0, dropped: 30 });
    expect(notices).toEqual(["kflowd: output file /dev/full: write failed, 10 records dropped (counted): ENOSPC\n"]);
  });

  test("not a regular file (here a FIFO; /dev/null alike): written to as it is, never rotated or moved", async () => {
    const fifo = `${dir}/shipper.fifo`;
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const out = await fileOutput({ path: fifo, maxBytes: 100, keep: 2 }, () => {});
      for (let batch = 0; batch < 3; batch++) {
        for (let i = 0; i < 10; i++) send(out, batch * 10 + i, 10);
        out.flush();
        await settle(out, 10 * (batch + 1));
      }
      await out.close(1000);
      const buf = Buffer.alloc(65536);
      const text = buf.subarray(0, readSync(reader, buf)).toString();
      expect(
        text
          .split("\n")
          .slice(0, -1)
          .map((l) => (JSON.parse(l) as { seq: number }).seq),
      ).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(statSync(fifo).isFIFO()).toBe(true);
      expect(existsSync(`${fifo}.1`)).toBe(false);
    } finally {
      closeSync(reader);
    }
  });

  test("a directory that does not exist names the option", async () => {
    await expect(fileOutput({ path: `${dir}/no/such/dir/x.json`, maxBytes: 1 << 20, keep: 1 })).rejects.toThrow(
      new SetupError(`option --output-file: cannot open ${dir}/no/such/dir/x.json: ENOENT`),
    );
  });
});
