import { afterAll, afterEach, expect, spyOn, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { Checksums, type FileVersion, kernelDev } from "../../src/enrich/checksums.ts";
import { devHex } from "../../src/enrich/devices.ts";

const dir = mkdtempSync(`${tmpdir()}/kflowd-sum-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...argv: string[]): string {
  const p = Bun.spawnSync(argv);
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${p.stderr.toString()}`);
  return p.stdout.toString();
}

/** The record the kernel would send, from stat(1) rather than our own dev_t conversion. */
function version(path: string): FileVersion {
  const [major, minor, ino, size, sec, nsec] = run("stat", "-c", "%Hd %Ld %i %s %Y %.9Y", path).trim().split(" ");
  const frac = nsec!.split(".")[1] ?? "0";
  return {
    path,
    dev: Number(major) * 0x100000 + Number(minor),
    ino: BigInt(ino!),
    size: Number(size),
    mtimeNs: BigInt(sec!) * 1_000_000_000n + BigInt(frac),
  };
}

function compute(c: Checksums, v: FileVersion, path = v.path): ReturnType<Checksums["compute"]> {
  return c.compute({ ...v, path });
}

function toolDigests(path: string): { md5: string; sha256: string } {
  return {
    md5: run("md5sum", path).split(" ")[0]!,
    sha256: run("sha256sum", path).split(" ")[0]!,
  };
}

let n = 0;
/** An executable regular file with the given content. */
function exe(content: string | Uint8Array): string {
  const path = `${dir}/exe-${n++}`;
  writeFileSync(path, content);
  chmodSync(path, 0o755);
  return path;
}

test("kernelDev: glibc st_dev -> major << 20 | minor, including big majors and minors", () => {
  expect(kernelDev(45n)).toBe(45); // 0:45
  expect(kernelDev(0xfe00n)).toBe(254 * 0x100000); // 254:0
  expect(kernelDev(0x493103e0n)).toBe(259 * 0x100000 + 300000); // minor above 0xff
  expect(kernelDev(0xffffffffn)).toBe(4095 * 0x100000 + 0xfffff); // largest kernel dev_t
  for (const dev of [45, 254 * 0x100000, 259 * 0x100000 + 65539, 4095 * 0x100000 + 0xfffff]) {
    expect(kernelDev(BigInt(`0x${devHex(dev)}`))).toBe(dev);
  }
  expect(kernelDev(1n << 44n)).toBe(-1); // major 4096: no kernel encoding
  expect(kernelDev(0xfffn << 32n)).toBe(-1); // minor above 20 bits
});

const notRoot = process.getuid?.() !== 0;
test.skipIf(notRoot)("kernelDev agrees with stat() of mknod'ed big device numbers (mknod needs root)", () => {
  for (const [major, minor] of [
    [259, 300000],
    [4095, 0xfffff],
  ] as const) {
    const path = `${dir}/dev-${major}-${minor}`;
    run("mknod", path, "c", String(major), String(minor));
    expect(kernelDev(statSync(path, { bigint: true }).rdev)).toBe(major * 0x100000 + minor);
  }
});

test("digests equal md5sum and sha256sum; the second request is served from the cache", async () => {
  const v = version(exe("#!/bin/sh\necho hello\n"));
  const c = new Checksums();
  expect(c.get(v)).toBeUndefined();
  const d = await compute(c, v);
  expect(d).toEqual(toolDigests(v.path));
  expect(c.hashed).toBe(1);
  expect(await compute(c, v)).toEqual(d!);
  expect(c.get(v)).toEqual(d!);
  expect(c.hashed).toBe(1);
  expect(c.get({ ...v, mtimeNs: v.mtimeNs + 1n })).toBeUndefined(); // another version is another key
  expect(Object.values(c.refused).every((x) => x === 0)).toBe(true);
});

test("an empty file hashes to the empty digests", async () => {
  const v = version(exe(""));
  const c = new Checksums();
  expect(await compute(c, v)).toEqual(toolDigests(v.path));
});

test("a 20 MiB file is hashed correctly, in chunks", async () => {
  const v = version(exe(randomBytes(20 * 1024 * 1024)));
  const c = new Checksums();
  expect(await compute(c, v)).toEqual(toolDigests(v.path));
});

test("many concurrent requests for one version hash it once", async () => {
  const v = version(exe(randomBytes(3 * 1024 * 1024)));
  const c = new Checksums();
  const all = await Promise.all(Array.from({ length: 50 }, () => compute(c, v)));
  const want = toolDigests(v.path);
  for (const d of all) expect(d).toEqual(want);
  expect(c.hashed).toBe(1);
  expect(c.refused.busy).toBe(0);
});

test("a FIFO with mode 0755 is refused at once, never blocking on open or read", async () => {
  const path = `${dir}/fifo`;
  run("mkfifo", "-m", "0755", path);
  const c = new Checksums();
  expect(await compute(c, version(path))).toBeUndefined();
  expect(c.refused.notRegular).toBe(1);
  expect(c.hashed).toBe(0);
}, 2000);

test("a character device (/dev/null) is not a regular file", async () => {
  const c = new Checksums();
  expect(await compute(c, version("/dev/null"))).toBeUndefined();
  expect(c.refused.notRegular).toBe(1);
});

test("a procfs file (st_size 0) is read only up to st_size: nothing", async () => {
  const v = version(`/proc/${process.pid}/status`); // not /proc/self: stat(1) would see its own
  expect(v.size).toBe(0);
  const c = new Checksums();
  expect(await compute(c, v)).toEqual({
    md5: "d41d8cd98f00b204e9800998ecf8427e",
    sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  });
});

test("a symlink swapped in for the file is not followed, even to the same inode", async () => {
  const target = exe("#!/bin/sh\n");
  const v = version(target);
  const link = `${dir}/link-${n++}`;
  symlinkSync(target, link);
  const c = new Checksums();
  expect(await compute(c, v, link)).toBeUndefined();
  expect(c.refused.symlink).toBe(1);
  expect(c.hashed).toBe(0);
});

test("a file renamed over the path after the record is refused as another file, not hashed", async () => {
  const path = exe("original content\n");
  const v = version(path);
  const imposter = exe("imposter content\n"); // same size
  run("touch", "-r", path, imposter); // same mtime to the ns: only (dev, inode) tell them apart
  renameSync(imposter, path);
  const now = version(path);
  expect([now.size, now.mtimeNs]).toEqual([v.size, v.mtimeNs]);
  expect(now.ino).not.toBe(v.ino);
  const c = new Checksums();
  expect(await compute(c, v)).toBeUndefined();
  expect(c.refused.otherFile).toBe(1);
  expect(c.hashed).toBe(0);
});

test("a file modified since the record is refused as outdated, not hashed", async () => {
  const path = exe("v1\n");
  const v = version(path);
  appendFileSync(path, "v2\n");
  const c = new Checksums();
  expect(await compute(c, v)).toBeUndefined();
  expect(c.refused.outdated).toBe(1);
  expect(c.hashed).toBe(0);
});

test("files above maxFileBytes are refused as tooBig, by the record's size and by fstat's", async () => {
  const v = version(exe(randomBytes(2048)));
  const c = new Checksums({ maxFileBytes: 1024 });
  expect(await compute(c, v)).toBeUndefined();
  expect(await c.compute({ ...v, size: 100 })).toBeUndefined(); // record lies about the size
  expect(c.refused.tooBig).toBe(2);
  expect(c.hashed).toBe(0);
});

test("a missing path is openFailed", async () => {
  const v = version(exe("x"));
  const c = new Checksums();
  expect(await compute(c, v, `${dir}/does-not-exist`)).toBeUndefined();
  expect(c.refused.openFailed).toBe(1);
});

test("bad arguments resolve undefined instead of rejecting", async () => {
  const v = version(exe("x"));
  const c = new Checksums();
  expect(await c.compute({ ...v, size: Number.NaN })).toBeUndefined();
  expect(c.refused.unexpected).toBe(1);
});

const readSpies: { mockRestore(): void }[] = [];
afterEach(() => {
  for (const s of readSpies.splice(0)) s.mockRestore();
});

/** Runs `during` once, right after the first read(2) through any FileHandle. */
async function onFirstRead(during: () => void): Promise<void> {
  const probe = await open("/dev/null", "r");
  const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const read = proto.read;
  let done = false;
  readSpies.push(
    spyOn(proto, "read").mockImplementation(async function (this: unknown, ...args: unknown[]) {
      const r = await read.apply(this, args);
      if (!done) {
        done = true;
        during();
      }
      return r;
    }),
  );
}

test("a file growing while it is read is discarded as changedWhileReading", async () => {
  const path = exe(randomBytes(1024 * 1024));
  const v = version(path);
  await onFirstRead(() => appendFileSync(path, "more"));
  const c = new Checksums();
  expect(await compute(c, v)).toBeUndefined();
  expect(c.refused.changedWhileReading).toBe(1);
  expect(c.hashed).toBe(0);
  expect(c.get(v)).toBeUndefined();
});

test("a same-size change of mtime while reading is discarded as changedWhileReading", async () => {
  const path = exe("same size\n");
  const v = version(path);
  await onFirstRead(() => utimesSync(path, 1, 2));
  const c = new Checksums();
  expect(await compute(c, v)).toBeUndefined();
  expect(c.refused.changedWhileReading).toBe(1);
  expect(c.hashed).toBe(0);
});

test("at most maxConcurrent hashes run, the backlog is bounded, beyond it busy", async () => {
  const [a, b, d] = [exe("a"), exe("b"), exe("d")].map(version) as [FileVersion, FileVersion, FileVersion];
  const c = new Checksums({ maxConcurrent: 1, maxQueued: 1 });
  const pa = compute(c, a);
  const pb = compute(c, b);
  const pd = compute(c, d);
  expect(await pd).toBeUndefined();
  expect(c.refused.busy).toBe(1);
  expect(await pa).toEqual(toolDigests(a.path));
  expect(await pb).toEqual(toolDigests(b.path));
  expect(c.hashed).toBe(2);
  expect(await compute(c, d)).toEqual(toolDigests(d.path)); // room again
});

test("a queued request waits for the slot: it ends after the one ahead of it", async () => {
  const [a, b] = [exe(randomBytes(4 * 1024 * 1024)), exe("b")].map(version) as [FileVersion, FileVersion];
  const c = new Checksums({ maxConcurrent: 1 });
  const order: string[] = [];
  await Promise.all([compute(c, a).then(() => order.push("a")), compute(c, b).then(() => order.push("b"))]);
  expect(order).toEqual(["a", "b"]);
  expect(c.hashed).toBe(2);
});

test("LRU: the least recently used version is evicted at maxEntries", async () => {
  const [a, b, d] = [exe("a"), exe("b"), exe("d")].map(version) as [FileVersion, FileVersion, FileVersion];
  const c = new Checksums({ maxEntries: 2 });
  await compute(c, a);
  await compute(c, b);
  expect(c.get(a)).toBeDefined(); // a is now the most recent
  await compute(c, d);
  expect(c.size).toBe(2);
  expect(c.get(b)).toBeUndefined();
  expect(c.get(a)).toBeDefined();
  expect(c.get(d)).toBeDefined();
  expect(c.hashed).toBe(3);
});
