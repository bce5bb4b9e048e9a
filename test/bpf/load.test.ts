// The kernel object on the running kernel: it verifies, attaches, and the records it
// produces for real syscalls decode to what the test did. Runs the object in-process
// (not the compiled agent) with agent_pid = 0, so this test's own activity is seen.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { kernelTracepoints } from "../../ffi/btf.ts";
import { loadLibbpf } from "../../ffi/libbpf.ts";
import { loadShim } from "../../ffi/shim.ts";
import { RingReader } from "../../src/ingest/ring.ts";
import { readKernelStats } from "../../src/ingest/stats.ts";
import { type KernelSession, probeKernel, startKernel } from "../../src/kernel.ts";
import { decodeExit, type ExitNotice } from "../../src/records/exit.ts";
import { decodeFile, type FileRecord } from "../../src/records/file.ts";
import { recordType } from "../../src/records/header.ts";
import { FsEvent, RecFile, RecType } from "../../src/records/layout.gen.ts";
import { BPF_OBJECT, SHIM } from "../helpers/paths.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

const skip = skipWithoutKernel("BPF load tests");

describe.skipIf(skip)("kernel object", () => {
  const { lib } = loadLibbpf();
  let session: KernelSession;
  let reader: RingReader;
  const files: FileRecord[] = [];
  const exits: ExitNotice[] = [];

  function collect(view: DataView, bytes: Uint8Array, off: number, size: number): void {
    const type = recordType(view, off, size);
    if (type === RecType.REC_TYPE_FILE) {
      const r = decodeFile(view, bytes, off, size);
      if (r) files.push(r);
    } else if (type === RecType.REC_TYPE_EXIT) {
      const e = decodeExit(view, off, size);
      if (e) exits.push(e);
    }
  }

  async function until<T>(find: () => T | undefined, what: string): Promise<T> {
    for (let i = 0; i < 200; i++) {
      reader.drain(collect);
      const found = find();
      if (found !== undefined) return found;
      await Bun.sleep(10);
    }
    throw new Error(`no ${what} within 2 s`);
  }

  beforeAll(async () => {
    const shim = await loadShim(SHIM);
    shim.kf_log_init(0);
    session = startKernel(lib, shim, await Bun.file(BPF_OBJECT).bytes(), {
      agentPid: 0,
      ringBytes: 1 << 20,
      fileEntries: 256,
      eventsMax: 0,
      sockEntries: 256,
      apps: { ports: [], unixSyslog: false },
      appBytes: 1400,
      monitor: { file: true, socket: true },
    });
    reader = new RingReader(session.object.openRing("ring", RecFile.SIZE), 256 * 1024);
  });

  afterAll(() => {
    reader?.close();
    session?.object.close();
  });

  test("the universal programs and one inode source are attached", () => {
    const [file, inode] = session.features;
    expect(file).toMatchObject({ feature: "file", tier: "syscall-tracepoints" });
    expect(file!.programs).toContain("sys_exit__file_event");
    expect(inode!.feature).toBe("file-inode");
    const ctime = kernelTracepoints(lib, ["inode_set_ctime_to_ts", "ctime_xchg_skip", "ctime_ns_xchg"]).size === 3;
    const kprobes = existsSync("/sys/bus/event_source/devices/kprobe");
    expect(inode!.tier).toBe(ctime ? "ctime-tracepoints" : kprobes ? "kprobes" : "none");
  });

  test("the io_uring programs verify and attach where the tracepoints hand over the request", () => {
    const uring = session.features.find((f) => f.feature === "io_uring");
    const layout = probeKernel(lib).uring;
    expect(uring).toMatchObject(layout ? { tier: "uring-tracepoints" } : { tier: "setup-counted" });
    expect(uring?.degraded).toBe(layout ? undefined : expect.any(String));
  });

  test("create, write, read back, close: one record with the right counts", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-bpf-`);
    const path = `${dir}/data.bin`;
    const fd = openSync(path, "w+", 0o600);
    writeSync(fd, Buffer.alloc(1000, 1));
    writeSync(fd, Buffer.alloc(24, 2));
    readSync(fd, Buffer.alloc(10), 0, 10, 0);
    const st = fstatSync(fd, { bigint: true });
    closeSync(fd);

    const r = await until(() => files.find((f) => f.path === path), `record for ${path}`);
    expect(r.task.pid).toBe(process.pid);
    expect(r.ino).toBe(st.ino);
    // stat's encoding of dev_t vs the kernel's internal major << 20 | minor
    const major = (st.dev >> 8n) & 0xfffn;
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & 0xfff00n);
    expect(r.dev).toBe(Number((major << 20n) | minor));
    expect(r.size).toBe(1024);
    expect(r.sizeFirst).toBe(0);
    expect(r.mode).toBe(0o100600);
    expect(r.eventCounts[FsEvent.FS_CREATE]).toBe(1);
    expect(r.eventCounts[FsEvent.FS_OPEN]).toBe(1);
    expect(r.eventCounts[FsEvent.FS_MODIFY]).toBe(2);
    expect(r.eventCounts[FsEvent.FS_ACCESS]).toBe(1);
    expect(r.eventCounts[FsEvent.FS_CLOSE_WRITE]).toBe(1);
    expect(r.events).toBe(6);
    expect(r.mtimeNs).toBe(st.mtimeNs);
    expect(r.tsNs).toBeGreaterThanOrEqual(r.tsFirstNs);
  });

  test("the end of a process is announced", async () => {
    const child = Bun.spawn(["true"]);
    await child.exited;
    const e = await until(() => exits.find((x) => x.pid === child.pid), `exit notice of ${child.pid}`);
    expect(e.startNs).toBeGreaterThan(0n);
  });

  test("nothing was lost", () => {
    const stats = readKernelStats(lib, session.object.mapFd("stats"));
    expect(stats.STAT_RING_FULL).toBe(0);
    expect(stats.STAT_FILE_MAP_FULL).toBe(0);
    expect(stats.STAT_FILE_RECORDS).toBeGreaterThan(0);
    expect(reader.lost).toBe(0);
  });
});
