// The compiled agent against real file activity: this test's own syscalls, a shell, and
// processes that exit with files still open. Records are asserted field by field,
// filtered to paths in the test's own temporary directory.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  fchmodSync,
  fchownSync,
  ftruncateSync,
  futimesSync,
  mkdtempSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { expectStat } from "../helpers/stat.ts";

setDefaultTimeout(20_000);
const skip = skipWithoutKernel("end-to-end file tests");

describe.skipIf(skip)("file records from the compiled agent", () => {
  let agent: RunningAgent;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/kflowd-e2e-`);
    agent = await RunningAgent.start(["-o", "json-min"]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop("SIGINT")).toBe(0);
  });

  test("create, three writes, close: every field", async () => {
    const path = `${dir}/created.txt`;
    const fd = openSync(path, "w", 0o640);
    for (const chunk of ["alpha\n", "beta\n", "gamma\n"]) writeSync(fd, chunk);
    closeSync(fd);
    const st = statSync(path, { bigint: true });

    const [r] = await agent.waitForFile(path);
    expect(agent.fileRecords(path)).toHaveLength(1);
    expect(r).toMatchObject({
      InfoMonitor: "filesystem",
      ProcPID: process.pid,
      ProcTID: process.pid,
      ProcPPID: process.ppid,
      ProcUID: 0,
      ProcUser: "root",
      FilePath: `${dir}/`,
      File: "created.txt",
      FileMode: "regular",
      FileEventCount: 6,
      FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 3, CLOSE_WRITE: 1 },
      FileInodeLinkCount: 1,
      FilePermissions: "0640/-rw-r-----",
      FileUser: "root",
      FileUID: 0,
      FileGID: 0,
      FileSize: 17,
      FileSizeChange: 17,
    });
    expect(BigInt(r!.FileInode as number)).toBe(st.ino); // small inodes survive JSON.parse
    const mount = (await Bun.$`findmnt -n -o TARGET,FSTYPE --target ${dir}`.text()).trim().split(/\s+/);
    expect(r!.FileDevice).toMatch(new RegExp(`^${st.dev.toString(16)}h:[^:]*:${mount[0]}:${mount[1]}$`));
    expect(r!.Proc).toMatch(/^bun/);
    expect(typeof r!.FileEventsDuration).toBe("number");
    expect(r!.FileModificationTime).toMatch(/^\w{3}, \w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{9} UTC$/);
  });

  test("read twice to the end of an existing file: ACCESS per read, CLOSE_NOWRITE", async () => {
    const path = `${dir}/existing.txt`;
    writeFileSync(path, "x".repeat(100));
    await agent.waitForFile(path); // the write above is its own record
    const fd = openSync(path, "r");
    const buf = Buffer.alloc(60);
    expect(readSync(fd, buf)).toBe(60);
    expect(readSync(fd, buf)).toBe(40);
    expect(readSync(fd, buf)).toBe(0); // end of file: not an access
    closeSync(fd);

    const records = await agent.waitForFile(path, 2);
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({
      ProcPID: process.pid,
      FileEventCount: 4,
      FileEvents: { OPEN: 1, ACCESS: 2, CLOSE_NOWRITE: 1 },
      FileSize: 100,
    });
    expect(records[1]).not.toHaveProperty("FileSizeChange");
  });

  test("`echo hi > FILE` in a shell (dup2 onto stdout, released by dup2)", async () => {
    const path = `${dir}/echo.txt`;
    const sh = Bun.spawn(["sh", "-c", `echo hi > '${path}'`]);
    expect(await sh.exited).toBe(0);

    const [r] = await agent.waitForFile(path);
    expect(r).toMatchObject({
      ProcPID: sh.pid,
      ProcPPID: process.pid,
      FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 },
      FileEventCount: 4,
      FileSize: 3,
      FileInode: Number(statSync(path).ino),
    });
    // kflowd names a process "exe/comm" when the comm is not a prefix of the exe (dash run as sh)
    expect(r!.Proc).toMatch(/^(sh|bash|dash\/sh)$/);
  });

  test("close_range(2) releases its descriptors as close does; with CLOSE_RANGE_CLOEXEC it does not", async () => {
    // the process stays alive afterwards (until its stdin ends): the records are the close's, not the exit's
    const script = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
kept = os.open("kept.txt", os.O_CREAT | os.O_WRONLY)
os.write(kept, b"k")
if libc.syscall(436, kept, kept, 4) != 0: sys.exit(1)  # CLOSE_RANGE_CLOEXEC: only marked
fds = [os.open(f"range{i}.txt", os.O_CREAT | os.O_WRONLY) for i in range(3)]
for fd in fds: os.write(fd, b"x" * (fd + 1))
os.closerange(fds[0], 65536)  # close_range(first, 65536, 0)
print("closed", flush=True)
sys.stdin.read()`;
    const py = Bun.spawn(["python3", "-c", script], { cwd: dir, stdin: "pipe", stdout: "pipe" });
    try {
      for (let i = 0; i < 3; i++) {
        const [r] = await agent.waitForFile(`${dir}/range${i}.txt`);
        expect(r).toMatchObject({ ProcPID: py.pid, FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 } });
      }
      expect(agent.fileRecords(`${dir}/kept.txt`)).toEqual([]);
    } finally {
      py.stdin.end();
      expect(await py.exited).toBe(0);
    }
    // kept.txt stayed open: its close comes with the exit
    const [kept] = await agent.waitForFile(`${dir}/kept.txt`);
    expect(kept).toMatchObject({ ProcPID: py.pid, FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 } });
  });

  test("cp: the kernel-side copy counts as ACCESS on the source and MODIFY on the copy", async () => {
    const src = `${dir}/cp-src.bin`;
    const dst = `${dir}/cp-dst.bin`;
    writeFileSync(src, Buffer.alloc(300_000, 7));
    await agent.waitForFile(src);
    const cp = Bun.spawn(["cp", src, dst]);
    expect(await cp.exited).toBe(0);

    const [d] = await agent.waitForFile(dst);
    expect(d).toMatchObject({ ProcPID: cp.pid, Proc: "cp", FileSize: 300_000, FileSizeChange: 300_000 });
    expect(d!.FileEvents).toMatchObject({ CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 });
    expect((d!.FileEvents as Record<string, number>).MODIFY).toBeGreaterThanOrEqual(1);
    const s = (await agent.waitFor(() => agent.fileRecords(src).find((r) => r.ProcPID === cp.pid), "cp's source record"))!;
    expect(s.FileEvents).toMatchObject({ OPEN: 1, CLOSE_NOWRITE: 1 });
    expect((s.FileEvents as Record<string, number>).ACCESS).toBeGreaterThanOrEqual(1);
  });

  test("changes through a descriptor: fchmod, fchown, futimens are ATTRIB; ftruncate, fallocate MODIFY", async () => {
    const path = `${dir}/attrs.bin`;
    const fd = openSync(path, "w", 0o600);
    fchmodSync(fd, 0o644);
    fchownSync(fd, 0, 0);
    ftruncateSync(fd, 4096);
    futimesSync(fd, 1_700_000_000, 1_700_000_000); // after the truncate, which sets mtime
    closeSync(fd);
    const [r] = await agent.waitForFile(path);
    expect(r).toMatchObject({
      FileEvents: { CREATE: 1, OPEN: 1, ATTRIB: 3, MODIFY: 1, CLOSE_WRITE: 1 },
      FileSize: 4096,
      FilePermissions: "0644/-rw-r--r--",
      FileModificationTime: "Tue, Nov 14 2023 22:13:20.000000000 UTC",
    });

    const fa = Bun.spawn(["fallocate", "-l", "8192", path]);
    expect(await fa.exited).toBe(0);
    const grown = await agent.waitFor(() => agent.fileRecords(path).find((x) => x.ProcPID === fa.pid), "fallocate's record");
    expect(grown).toMatchObject({ FileEvents: { OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 }, FileSize: 8192, FileSizeChange: 4096 });
  });

  test("running a program: OPEN_EXEC on its file, closed when it exits", async () => {
    const exe = `${dir}/my-true`;
    copyFileSync("/bin/true", exe);
    chmodSync(exe, 0o755);
    await agent.waitForFile(exe);
    const p = Bun.spawn([exe]);
    expect(await p.exited).toBe(0);
    const r = await agent.waitFor(() => agent.fileRecords(exe).find((x) => x.ProcPID === p.pid), "the exec record");
    expect(r).toMatchObject({ Proc: "my-true", FileEvents: { OPEN_EXEC: 1, CLOSE_NOWRITE: 1 }, FileEventCount: 2 });
  });

  test("running a script: OPEN_EXEC on the script and on its interpreter", async () => {
    const script = `${dir}/my-script.sh`;
    writeFileSync(script, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await agent.waitForFile(script);
    const p = Bun.spawn([script]);
    expect(await p.exited).toBe(0);
    const interpreter = realpathSync("/bin/sh");
    const exec = await agent.waitFor(
      () => agent.fileRecords(script).find((x) => x.ProcPID === p.pid && (x.FileEvents as Record<string, number>).OPEN_EXEC),
      "the script's exec record",
    );
    expect(exec.FileEvents).toMatchObject({ OPEN_EXEC: 1 });
    // with an inode source for execs (kprobes) the inode keys come too; else name and events only
    if (exec.FileInode !== undefined) expect(exec.FileInode).toBe(statSync(script).ino);
    const interp = await agent.waitFor(
      () => agent.fileRecords(interpreter).find((x) => x.ProcPID === p.pid),
      "the interpreter's exec record",
    );
    expect(interp).toMatchObject({ FileEvents: { OPEN_EXEC: 1 }, FileInode: statSync(interpreter).ino });
  });

  test("touch -d: ATTRIB with the times it set", async () => {
    const path = `${dir}/dated.txt`;
    writeFileSync(path, "x");
    await agent.waitForFile(path);
    const p = Bun.spawn(["touch", "-d", "2001-02-03 04:05:06.5 UTC", path]);
    expect(await p.exited).toBe(0);
    const r = await agent.waitFor(() => agent.fileRecords(path).find((x) => x.ProcPID === p.pid), "the touch record");
    expect(r.FileEvents).toMatchObject({ ATTRIB: 1 });
    expect(r).toMatchObject({
      FileModificationTime: "Sat, Feb 03 2001 04:05:06.500000000 UTC",
      FileAccessTime: "Sat, Feb 03 2001 04:05:06.500000000 UTC",
    });
    expect(r.FileModificationTimeChange as number).toBeLessThan(-800_000_000);
  });

  test("ordinary tools, one record each, every inode key as stat shows it afterwards", async () => {
    const path = `${dir}/tools.txt`;
    const tool = async (argv: string[], events: Record<string, number>, statPath = path): Promise<void> => {
      const p = Bun.spawn(argv, { stderr: "inherit" });
      expect(await p.exited).toBe(0);
      const r = await agent.waitFor(
        () => agent.records.find((x) => x.ProcPID === p.pid && `${x.FilePath}${x.File}` === statPath),
        `the record of ${argv[0]}`,
      );
      expect(r.FileEvents).toEqual(events);
      expect(r.FileEventCount).toBe(Object.values(events).reduce((a, b) => a + b, 0));
      expectStat(r, statPath);
    };
    await tool(["touch", path], { CREATE: 1, OPEN: 1, ATTRIB: 1, CLOSE_WRITE: 1 });
    await tool(["sh", "-c", `echo 0123456789 >> '${path}'`], { OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
    await tool(["truncate", "-s", "4", path], { OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
    await tool(["cat", path], { OPEN: 1, ACCESS: 1, CLOSE_NOWRITE: 1 });
    await tool(["chmod", "0751", path], { ATTRIB: 1 });
    await tool(["chown", "65534:65534", path], { ATTRIB: 1 });
    await tool(
      ["cp", "--preserve=mode", path, `${path}.copy`],
      { CREATE: 1, OPEN: 1, MODIFY: 1, ATTRIB: 1, CLOSE_WRITE: 1 },
      `${path}.copy`,
    );
  });

  test("a relative path is reported absolute", async () => {
    const sh = Bun.spawn(["sh", "-c", "mkdir -p sub && cd sub && echo rel > ./../rel.txt"], { cwd: dir });
    expect(await sh.exited).toBe(0);
    const [r] = await agent.waitForFile(`${dir}/rel.txt`);
    expect(r).toMatchObject({ FilePath: `${dir}/`, File: "rel.txt", ProcPID: sh.pid });
  });

  test("a process that exits with the file open still yields its record", async () => {
    const path = `${dir}/left-open.txt`;
    // exec 3> keeps fd 3 open until the shell exits; nothing closes it explicitly
    const sh = Bun.spawn(["sh", "-c", `exec 3>'${path}'; echo data >&3; echo more >&3; exit 0`]);
    expect(await sh.exited).toBe(0);

    const [r] = await agent.waitForFile(path);
    expect(r).toMatchObject({
      ProcPID: sh.pid,
      FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 2, CLOSE_WRITE: 1 },
      FileSize: 10,
    });
  });

  test("hostile names come out as valid JSON, byte for byte where UTF-8 allows", async () => {
    const name = 'q"uote\\back\nline\ttab é';
    const path = `${dir}/${name}`;
    writeFileSync(path, "1");
    const [r] = await agent.waitForFile(path);
    expect(r!.File).toBe(name);

    const raw = Buffer.concat([Buffer.from(`${dir}/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from(".bin")]);
    closeSync(openSync(raw, "w"));
    const [bad] = await agent.waitForFile(`${dir}/bad-\uFFFD\uFFFD.bin`);
    expect(bad).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 } });
  });

  test("every byte value a name can hold, in one 254-byte name: one valid JSON record", async () => {
    const bytes = Buffer.from([...Array(255).keys()].map((i) => i + 1).filter((b) => b !== 0x2f));
    expect(bytes.length).toBe(254);
    closeSync(openSync(Buffer.concat([Buffer.from(`${dir}/`), bytes]), "w"));
    // what a UTF-8 decoder makes of the name: invalid sequences become U+FFFD
    const name = new TextDecoder().decode(bytes);
    const [r] = await agent.waitForFile(`${dir}/${name}`);
    expect(r).toMatchObject({ File: name, FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 } });
  });

  test("a 255-byte name, spaces, and a 3000-byte path are kept whole", async () => {
    const longName = `${"n".repeat(251)}.txt`;
    writeFileSync(`${dir}/${longName}`, "x");
    const [a] = await agent.waitForFile(`${dir}/${longName}`);
    expect(a!.File).toBe(longName);

    let path = `${dir}/with spaces`;
    while (path.length < 3000) path += `/${"p".repeat(200)}`;
    await Bun.$`mkdir -p ${path}`;
    writeFileSync(`${path}/end file.txt`, "y");
    const [b] = await agent.waitForFile(`${path}/end file.txt`);
    expect(b!.FilePath).toBe(`${path}/`);
  });

  test("100000 writes before the close are one record with MODIFY 100000", async () => {
    const path = `${dir}/many-writes.bin`;
    const fd = openSync(path, "w");
    const byte = Buffer.from("z");
    for (let i = 0; i < 100_000; i++) writeSync(fd, byte);
    closeSync(fd);
    const records = await agent.waitForFile(path);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 100_000, CLOSE_WRITE: 1 },
      FileEventCount: 100_003,
      FileSize: 100_000,
    });
  });

  test("a long, deep path is kept whole", async () => {
    let path = dir;
    for (let i = 0; i < 30; i++) path += `/level-${i}-${"d".repeat(40)}`;
    await Bun.$`mkdir -p ${path}`;
    const file = `${path}/deep.txt`;
    writeFileSync(file, "deep");
    expect(file.length).toBeGreaterThan(1400);
    const [r] = await agent.waitForFile(file);
    expect(r!.FileSize).toBe(4);
  });

  test("the agent's own file activity is never reported", () => {
    expect(agent.records.length).toBeGreaterThan(0);
    expect(agent.records.filter((r) => r.ProcPID === agent.pid)).toEqual([]);
  });

  test("sequence numbers count up from 1 without gaps", () => {
    expect(agent.records.map((r) => r.InfoSequenceNumber)).toEqual(agent.records.map((_, i) => i + 1));
  });
});

describe.skipIf(skip)("shutdown", () => {
  test("SIGTERM prints what is still open, reports losses, exits 0", async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-e2e-`);
    const agent = await RunningAgent.start(["-o", "json"]);
    const path = `${dir}/held-open.log`;
    const fd = openSync(path, "w");
    writeSync(fd, "pending\n");
    // the record exists only in the kernel map while fd is open; give the syscall a moment
    await Bun.sleep(100);
    expect(await agent.stop("SIGTERM")).toBe(0);
    closeSync(fd);

    const records = agent.fileRecords(path);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 1 }, FileEventCount: 3 });
    expect(agent.pendingStdout).toBe("");
    expect(agent.stderr).toMatch(/stopped after \d+ records; lost: ring full 0, file map full 0/);
  });
});
