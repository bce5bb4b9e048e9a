import { $ } from "bun";
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { decodeExit } from "../../../src/records/exit.ts";
import { decodeFile, normalizePath } from "../../../src/records/file.ts";
import { recordType } from "../../../src/records/header.ts";
import { FsEvent, RecFile, RecHdr, RecLimits, RecTask, RecType } from "../../../src/records/layout.gen.ts";
import { ROOT } from "../../helpers/paths.ts";

// The fixture program lays the records out with the C compiler from bpf/records.h.
let fileBytes: Uint8Array;
let exitBytes: Uint8Array;

beforeAll(async () => {
  const dir = mkdtempSync(`${tmpdir()}/kflowd-fixture-`);
  await $`gcc -O0 -Wall -Werror -I${ROOT}bpf -o ${dir}/fixture ${ROOT}test/fixtures/records-fixture.c`;
  await $`${dir}/fixture ${dir}/file.bin ${dir}/exit.bin`;
  fileBytes = new Uint8Array(readFileSync(`${dir}/file.bin`));
  exitBytes = new Uint8Array(readFileSync(`${dir}/exit.bin`));
});

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

describe("record header", () => {
  test("a record of another layout version (or shorter than a header) has no type", () => {
    const other = fileBytes.slice();
    const v = view(other);
    expect(recordType(v, 0, other.length)).toBe(RecType.REC_TYPE_FILE);
    v.setUint16(RecHdr.version, RecLimits.REC_VERSION + 1, true);
    expect(recordType(v, 0, other.length)).toBe(0);
    expect(recordType(view(fileBytes), 0, RecHdr.SIZE - 1)).toBe(0);
  });
});

describe("file record", () => {
  test("every field decodes to what C wrote", () => {
    const v = view(fileBytes);
    expect(recordType(v, 0, fileBytes.length)).toBe(RecType.REC_TYPE_FILE);
    const r = decodeFile(v, fileBytes, 0, fileBytes.length);
    expect(r).toBeDefined();
    if (!r) return;
    expect(r.task).toEqual({
      pid: 4242,
      tid: 4243,
      ppid: 1,
      uid: 1000,
      gid: 100,
      startNs: 4999000000000000n,
      comm: "python3",
      exe: "python3.11",
      parentExe: "bash",
      cgroupId: 3 * 2 ** 32 + 0x1234,
    });
    expect(r.tsFirstNs).toBe(5000000000000000n);
    expect(r.tsNs).toBe(5000000123456789n);
    expect(r.ino).toBe(0x1234567890abcdefn);
    expect(r.dev).toBe((259 << 20) | 3);
    expect(r.mode).toBe(0o100640);
    expect(r.nlink).toBe(2);
    expect([r.uid, r.gid]).toEqual([0, 4]);
    expect(r.events).toBe(10);
    expect(r.eventCounts[FsEvent.FS_CREATE]).toBe(1);
    expect(r.eventCounts[FsEvent.FS_OPEN]).toBe(1);
    expect(r.eventCounts[FsEvent.FS_MODIFY]).toBe(7);
    expect(r.eventCounts[FsEvent.FS_CLOSE_WRITE]).toBe(1);
    expect(r.eventCounts.reduce((a, b) => a + b, 0)).toBe(10);
    expect(r.size).toBe(6000000000);
    expect(r.sizeFirst).toBe(0);
    expect(r.atimeNs).toBe(1712244875643031330n);
    expect(r.mtimeNs).toBe(1712244876000000001n);
    expect(r.ctimeNs).toBe(1712244877999999999n);
    expect(r.mtimeFirstNs).toBe(1712244875000000000n);
    expect(r.path).toBe('/srv/data/"quoted\\name"\n.txt'); // "./sub/../" resolved
    expect(r.pathTruncated).toBe(false);
    expect(r.origin).toBe("old name.txt");
    expect(r.inodeKnown).toBe(true);
  });

  test("what decoded records share (identity, counts) is never stale", () => {
    const a = decodeFile(view(fileBytes), fileBytes, 0, fileBytes.length)!;
    const b = decodeFile(view(fileBytes), fileBytes, 0, fileBytes.length)!;
    // the same bytes: the same identity and counts, not made again
    expect(b.task).toBe(a.task);
    expect(b.eventCounts).toBe(a.eventCounts);
    const other = fileBytes.slice();
    const v = view(other);
    other[RecFile.task + RecTask.comm + 1] = "Y".charCodeAt(0);
    v.setBigUint64(RecFile.task + RecTask.startNs, 4999000000000001n, true);
    v.setUint32(RecFile.eventCounts + 4 * FsEvent.FS_MODIFY, 8, true);
    v.setUint32(RecFile.events, 11, true);
    const c = decodeFile(v, other, 0, other.length)!;
    expect(c.task.comm).toBe("pYthon3");
    expect(c.task.startNs).toBe(4999000000000001n);
    expect(c.eventCounts[FsEvent.FS_MODIFY]).toBe(8);
    const d = decodeFile(view(fileBytes), fileBytes, 0, fileBytes.length)!;
    expect(d.task.comm).toBe("python3");
    expect(d.eventCounts[FsEvent.FS_MODIFY]).toBe(7);
  });

  test("a record cut short is rejected, not misread", () => {
    const v = view(fileBytes);
    expect(decodeFile(v, fileBytes, 0, fileBytes.length - 1)).toBeUndefined();
    expect(decodeFile(v, fileBytes, 0, 100)).toBeUndefined();
    expect(recordType(v, 0, 8)).toBe(0);
  });
});

describe("path normalization", () => {
  test.each([
    ["/a/b/c", "/a/b/c"],
    ["/a/./b//c", "/a/b/c"],
    ["/a/b/../c", "/a/c"],
    ["/../a", "/a"],
    ["/a/b/..", "/a"],
    ["/a/.hidden/..x", "/a/.hidden/..x"],
  ])("%s -> %s", (input, output) => expect(normalizePath(input)).toBe(output));
});

describe("exit notice", () => {
  test("decodes pid, start and time", () => {
    const v = view(exitBytes);
    expect(recordType(v, 0, exitBytes.length)).toBe(RecType.REC_TYPE_EXIT);
    expect(decodeExit(v, 0, exitBytes.length)).toEqual({ pid: 31337, startNs: 9000000000000000001n, tsNs: 77n });
    expect(decodeExit(v, 0, exitBytes.length - 8)).toBeUndefined();
  });
});
