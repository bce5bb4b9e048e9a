// The inode tier "none" (kernels with neither the ctime tracepoints nor kprobes), as the
// loader picks it for a kernel probed to offer neither: path operations by relative names and through directory
// descriptors still name their file, with the events and without inode data.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { loadLibbpf } from "../../ffi/libbpf.ts";
import { loadShim } from "../../ffi/shim.ts";
import { RingReader } from "../../src/ingest/ring.ts";
import { type KernelSession, probeKernel, startKernel } from "../../src/kernel.ts";
import { decodeFile, type FileRecord } from "../../src/records/file.ts";
import { recordType } from "../../src/records/header.ts";
import { FsEvent, RecFile, RecType } from "../../src/records/layout.gen.ts";
import { BPF_OBJECT, SHIM } from "../helpers/paths.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

const skip = skipWithoutKernel("inode tier none test");

describe.skipIf(skip)("inode tier none", () => {
  const { lib } = loadLibbpf();
  let session: KernelSession;
  let reader: RingReader;
  const files: FileRecord[] = [];

  function collect(view: DataView, bytes: Uint8Array, off: number, size: number): void {
    if (recordType(view, off, size) !== RecType.REC_TYPE_FILE) return;
    const r = decodeFile(view, bytes, off, size);
    if (r) files.push(r);
  }

  async function recordOf(pid: number, path: string, event: number): Promise<FileRecord> {
    for (let i = 0; i < 1000; i++) {
      reader.drain(collect);
      const found = files.find((f) => f.task.pid === pid && f.path === path && f.eventCounts[event]! > 0);
      if (found) return found;
      await Bun.sleep(10);
    }
    throw new Error(`no record of ${pid} for ${path} with event ${event}`);
  }

  async function run(cwd: string, ...argv: string[]): Promise<number> {
    const p = Bun.spawn(argv, { cwd });
    expect(await p.exited).toBe(0);
    return p.pid;
  }

  beforeAll(async () => {
    const shim = await loadShim(SHIM);
    shim.kf_log_init(0);
    session = startKernel(
      lib,
      shim,
      await Bun.file(BPF_OBJECT).bytes(),
      {
        agentPid: 0,
        ringBytes: 1 << 22,
        fileEntries: 1024,
        eventsMax: 0,
        sockEntries: 256,
        apps: { ports: [], unixSyslog: false },
        appBytes: 1400,
        monitor: { file: true, socket: false },
        // a kernel that offers neither inode source
      },
      { ...probeKernel(lib), ctime: false, kprobes: false },
    );
    reader = new RingReader(session.object.openRing("ring", RecFile.SIZE), 1 << 20);
  });

  afterAll(() => {
    reader?.close();
    session?.object.close();
  });

  test("the tier is none", () => {
    expect(session.features.find((f) => f.feature === "file-inode")).toMatchObject({ tier: "none" });
  });

  test("mv, chmod, ln, ln -s, rm by relative names, .. included: named, no inode", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-none-`);
    mkdirSync(`${dir}/sub`);
    writeFileSync(`${dir}/a.txt`, "a\n");
    const cases: [string[], string, string, number, string | undefined][] = [
      [["mv", "a.txt", "b.txt"], dir, `${dir}/b.txt`, FsEvent.FS_MOVED_TO, "a.txt"],
      [["chmod", "640", "b.txt"], dir, `${dir}/b.txt`, FsEvent.FS_ATTRIB, undefined],
      [["ln", "b.txt", "hard.txt"], dir, `${dir}/hard.txt`, FsEvent.FS_CREATE, undefined],
      [["ln", "-s", "b.txt", "soft.txt"], dir, `${dir}/soft.txt`, FsEvent.FS_CREATE, undefined],
      [["rm", "hard.txt"], dir, `${dir}/hard.txt`, FsEvent.FS_DELETE, undefined],
      [["mv", "../b.txt", "c.txt"], `${dir}/sub`, `${dir}/sub/c.txt`, FsEvent.FS_MOVED_TO, "b.txt"],
    ];
    for (const [argv, cwd, path, event, origin] of cases) {
      const r = await recordOf(await run(cwd, ...argv), path, event);
      expect({ cmd: argv.join(" "), inodeKnown: r.inodeKnown, origin: r.origin, events: r.events }).toEqual({
        cmd: argv.join(" "),
        inodeKnown: false,
        origin,
        events: event === FsEvent.FS_MOVED_TO ? 2 : 1,
      });
    }
  });

  test("unlinkat, renameat, fchmodat, linkat, symlinkat relative to a directory descriptor", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-none-`);
    mkdirSync(`${dir}/d`);
    writeFileSync(`${dir}/d/f.txt`, "f\n");
    const script = `import os
d = os.open("d", os.O_RDONLY | os.O_DIRECTORY)
os.rename("f.txt", "g.txt", src_dir_fd=d, dst_dir_fd=d)
os.chmod("g.txt", 0o600, dir_fd=d)
os.link("g.txt", "h.txt", src_dir_fd=d, dst_dir_fd=d)
os.symlink("g.txt", "s.txt", dir_fd=d)
os.unlink("h.txt", dir_fd=d)`;
    const pid = await run(dir, "python3", "-c", script);
    expect((await recordOf(pid, `${dir}/d/g.txt`, FsEvent.FS_MOVED_TO)).origin).toBe("f.txt");
    await recordOf(pid, `${dir}/d/g.txt`, FsEvent.FS_ATTRIB);
    await recordOf(pid, `${dir}/d/h.txt`, FsEvent.FS_CREATE);
    await recordOf(pid, `${dir}/d/s.txt`, FsEvent.FS_CREATE);
    const del = await recordOf(pid, `${dir}/d/h.txt`, FsEvent.FS_DELETE);
    expect(del.inodeKnown).toBe(false);
  });
});
