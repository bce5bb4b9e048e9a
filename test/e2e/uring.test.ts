// io_uring: a real liburing program (test/fixtures/uring-ops.c, built here against
// Debian's liburing-dev) does file and socket operations entirely through a ring, and
// the same program does them through the syscalls in another directory; each io_uring
// record must equal its syscall twin's but for what differs by nature (directory, PID,
// inode numbers, times, ports).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { ROOT } from "../helpers/paths.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end io_uring tests");

/** The files of one run, relative to its directory, and how many records each gets. */
const FILES: readonly (readonly [string, number])[] = [
  ["rw.txt", 2],
  ["sized.txt", 1],
  ["sub/old.txt", 1],
  ["sub/new.txt", 2],
  ["sub/hard.txt", 2],
  ["sub/soft.txt", 2],
  ["fixed.txt", 1],
  ["spliced-in.txt", 2],
  ["spliced-out.txt", 1],
  ["xattr.txt", 2],
  ["fxattr.txt", 1],
  ["slot.txt", 1],
  ["slot-alloc.txt", 1],
];

/** Keys that differ between two runs by nature, not by how the operations were made. */
const VARYING = /^(Info|ProcPID$|ProcTID$|ProcPPID$|ProcAge$|FileInode$|FilePath$|FileEventsDuration$|File\w*Time(Change)?$)/;

/** A file record without what varies, its path relative to dir. */
function fileShape(r: Json, dir: string): Json {
  const out: Json = { FileRelPath: `${String(r.FilePath).slice(dir.length + 1)}${r.File}` };
  for (const [k, v] of Object.entries(r)) if (!VARYING.test(k)) out[k] = v;
  // the inode is there in both, or (no inode source) in neither
  out.FileInodeKnown = typeof r.FileInode === "number" && r.FileInode > 0;
  return out;
}

/** A socket record without what varies: addresses and ports, times, round trips, sequence numbers. */
function sockShape(r: Json): Json {
  const keep =
    /^(Proc$|ProcUser$|ProcParent$|SockProtocol$|SockRole$|SockState$|SockFamily$|Sock(Tx|Rx)(Bytes|DataPackets|Packets|Flags)$|App$)/;
  const out: Json = {};
  for (const [k, v] of Object.entries(r)) if (keep.test(k)) out[k] = v;
  for (const k of ["AppTxHttp", "AppRxHttp"]) {
    const msgs = r[k] as Json[] | undefined;
    if (msgs) out[k] = msgs.map(({ _Timestamp, ...m }) => m);
  }
  return out;
}

/** Records sorted so that two runs line up: by file, then by their events. */
const order = (a: Json, b: Json) =>
  `${a.FileRelPath} ${JSON.stringify(a.FileEvents)}`.localeCompare(`${b.FileRelPath} ${JSON.stringify(b.FileEvents)}`);

describe.skipIf(skip)("io_uring", () => {
  let agent: RunningAgent;
  let work: string;
  let prog: string;
  const port = 20000 + (process.pid % 20000);
  const runs: Record<"uring" | "sys", { dir: string; pid: number; stdout: string }> = {} as never;

  beforeAll(async () => {
    work = mkdtempSync(`${tmpdir()}/kflowd-uring-`);
    prog = `${work}/uring-ops`;
    const cc = Bun.spawnSync(["gcc", "-O2", "-Wall", "-Werror", "-o", prog, `${ROOT}test/fixtures/uring-ops.c`, "-luring"], {
      stderr: "pipe",
    });
    if (cc.exitCode !== 0) throw new Error(`uring-ops.c did not build (liburing-dev installed?): ${cc.stderr.toString()}`);
    agent = await RunningAgent.start(["-o", "json-min", "-p", `http=tcp/${port},tcp/${port + 1}`]);
    for (const [mode, p] of [
      ["uring", port],
      ["sys", port + 1],
    ] as const) {
      const dir = `${work}/${mode}`;
      mkdirSync(dir);
      const proc = Bun.spawn([prog, mode, dir, String(p)], { stdout: "pipe", stderr: "pipe" });
      const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      if (code !== 0) throw new Error(`uring-ops ${mode} failed: ${stderr}`);
      runs[mode] = { dir, pid: proc.pid, stdout };
    }
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the banner names the io_uring hooks this kernel's tracepoints allow", () => {
    expect(agent.stderr).toMatch(
      /hooks for io_uring: uring-tracepoints \(io_uring_submit_(req|sqe)__uring, io_uring_complete__(cqe|res)\)/,
    );
  });

  for (const [name, count] of FILES) {
    test(`${name}: the io_uring records equal the syscalls' records`, async () => {
      const recordsOf = (mode: "uring" | "sys") =>
        agent.records.filter((r) => r.ProcPID === runs[mode].pid && `${r.FilePath}${r.File}` === `${runs[mode].dir}/${name}`);
      await agent.waitFor(
        () => recordsOf("uring").length >= count && recordsOf("sys").length >= count,
        `${count} record(s) of ${name} in both runs`,
      );
      const uring = recordsOf("uring")
        .map((r) => fileShape(r, runs.uring.dir))
        .sort(order);
      const sys = recordsOf("sys")
        .map((r) => fileShape(r, runs.sys.dir))
        .sort(order);
      expect(uring).toEqual(sys);
      expect(uring).toHaveLength(count);
      // attributed to the submitting process's own thread, not an io-wq worker
      for (const r of recordsOf("uring")) expect(r.ProcTID).toBe(r.ProcPID);
    });
  }

  test("each io_uring operation made its events (not only matching silence)", () => {
    const events = (name: string) =>
      agent.records
        .filter((r) => r.ProcPID === runs.uring.pid && `${r.FilePath}${r.File}` === `${runs.uring.dir}/${name}`)
        .map((r) => r.FileEvents as Record<string, number>);
    expect(events("rw.txt")).toContainEqual({ CREATE: 1, OPEN: 1, MODIFY: 2, CLOSE_WRITE: 1 });
    expect(events("rw.txt")).toContainEqual({ OPEN: 1, ACCESS: 2, CLOSE_NOWRITE: 1 });
    // fallocate, and ftruncate where the kernel has it (6.9+)
    const sized = runs.uring.stdout.includes("unsupported ftruncate") ? 1 : 2;
    expect(events("sized.txt")).toContainEqual({ CREATE: 1, OPEN: 1, MODIFY: sized, CLOSE_WRITE: 1 });
    expect(events("sub/new.txt")).toContainEqual({ MOVED_FROM: 1, MOVED_TO: 1 });
    expect(events("sub/new.txt")).toContainEqual({ DELETE: 1 });
    expect(events("sub/hard.txt")).toContainEqual({ CREATE: 1 });
    expect(events("sub/soft.txt")).toContainEqual({ CREATE: 1 });
    expect(events("fixed.txt")).toContainEqual({ CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
    // splice: the input read, the output written (tee moves between pipes: no file)
    expect(events("spliced-in.txt")).toContainEqual({ OPEN: 1, ACCESS: 1, CLOSE_NOWRITE: 1 });
    expect(events("spliced-out.txt")).toContainEqual({ CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
    // setxattr by path (the file then deleted by unlink(2)), fsetxattr
    expect(events("xattr.txt")).toContainEqual({ ATTRIB: 1, DELETE: 1 });
    expect(events("fxattr.txt")).toContainEqual({ CREATE: 1, OPEN: 1, ATTRIB: 1, CLOSE_WRITE: 1 });
    // opened into a registered file's slot (given, or allocated), closed by slot
    expect(events("slot.txt")).toContainEqual({ CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
    expect(events("slot-alloc.txt")).toContainEqual({ CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
  });

  for (const role of ["CLIENT", "SERVER"] as const) {
    test(`TCP ${role.toLowerCase()} through io_uring: same record and HTTP messages as through the syscalls`, async () => {
      const sockOf = (mode: "uring" | "sys") =>
        agent.records.find((r) => r.ProcPID === runs[mode].pid && r.SockProtocol === "TCP" && r.SockRole === role);
      const [uring, sys] = await agent.waitFor(() => {
        const u = sockOf("uring");
        const s = sockOf("sys");
        return u && s ? [u, s] : undefined;
      }, `TCP ${role} records of both runs`);
      expect(sockShape(uring)).toEqual(sockShape(sys));
      expect(uring).toMatchObject({ App: "HTTP", SockState: "TCP_CLOSE" });
      const http = role === "CLIENT" ? uring.AppTxHttp : uring.AppRxHttp;
      expect(http).toEqual([expect.objectContaining({ _Method: "GET", _Url: "/uring", Host: "kflowd.test" })]);
    });
  }

  test("the stop summary counts no unseen io_uring process", async () => {
    // the records above are in; the summary comes at stop
    const code = await agent.stop();
    expect(code).toBe(0);
    expect(agent.stderr).toContain("io_uring processes unseen 0");
    expect(agent.stderr).toMatch(/degraded: none/);
    agent = undefined as never;
  });
});

describe.skipIf(skip)("io_uring where its requests cannot be read", () => {
  test("the banner names io_uring degraded and the process that set up a ring is counted", async () => {
    const work = mkdtempSync(`${tmpdir()}/kflowd-uring-off-`);
    try {
      const prog = `${work}/uring-ops`;
      expect(Bun.spawnSync(["gcc", "-O2", "-o", prog, `${ROOT}test/fixtures/uring-ops.c`, "-luring"]).exitCode).toBe(0);
      // the io_uring programs rejected by the verifier, as on a kernel whose requests do not fit them
      const agent = await RunningAgent.start(["-o", "json-min"], {
        KFLOWD_TEST_BREAK: "io_uring_complete__cqe,io_uring_complete__res",
      });
      expect(agent.stderr).toMatch(/hooks for io_uring: setup-counted \(degraded: .*processes that set up rings are counted\)/);
      mkdirSync(`${work}/d`);
      const proc = Bun.spawn([prog, "uring", `${work}/d`], { stderr: "inherit" });
      expect(await proc.exited).toBe(0);
      // the process's exec record shows its records are through; none of its ring's files has one
      await agent.waitFor(() => agent.records.some((r) => r.ProcPID === proc.pid), "a record of the io_uring program");
      expect(await agent.stop()).toBe(0);
      expect(agent.fileRecords(`${work}/d/rw.txt`)).toEqual([]);
      // at least this one (other processes on the host may set up rings meanwhile)
      expect(Number(/io_uring processes unseen (\d+)/.exec(agent.stderr)?.[1])).toBeGreaterThanOrEqual(1);
      expect(agent.stderr).toMatch(/degraded: .*io_uring/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
