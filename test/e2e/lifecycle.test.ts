// The agent's life and its operator-facing modes: the start-up banner, -d (a detached
// daemon sending to a real UDP listener), -o table, -V statistics, -D debug lines, -P,
// and SIGTERM flushing a record that was pending, promptly.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { RunningAgent } from "../helpers/agent.ts";
import { AGENT } from "../helpers/paths.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end lifecycle tests");
const dir = skip ? "" : mkdtempSync(`${tmpdir()}/kflowd-life-`);

/** Field 6 of /proc/PID/stat: the session id. */
function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
}

async function exitedWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!existsSync(`/proc/${pid}`)) return true;
    await Bun.sleep(20);
  }
  return false;
}

describe.skipIf(skip)("lifecycle", () => {
  const agents: RunningAgent[] = [];
  /** daemons started by a test, stopped here too in case the test timed out */
  const daemons: number[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop().catch(() => {});
    for (const pid of daemons) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {}
    }
  });

  test("the banner names the requirements, the hooks per feature and the configuration", async () => {
    const agent = await RunningAgent.start(["-o", "json-min", "-P", "../lib", "-t", "20,600"]);
    agents.push(agent);
    await agent.waitFor(() => agent.stderr.includes("  output:"), "the whole banner");
    const lines = agent.stderr.split("\n");
    expect(lines[0]).toMatch(/^kflowd \S+ with PID \d+ started in terminal mode$/);
    expect(agent.stderr).toMatch(/requirements: Linux \S+ \(5\.10 or newer needed\), BTF at \/sys\/kernel\/btf\/vmlinux, libbpf \d+\.\d+/);
    expect(agent.stderr).toMatch(/^ {2}hooks for file: syscall-tracepoints \(/m);
    expect(agent.stderr).toMatch(/^ {2}hooks for socket: cgroup-hooks \(/m);
    expect(agent.stderr).toContain("after 20 s idle or 600 s active");
    expect(agent.stderr).toContain("applications: dns=udp/53,tcp/53 http=tcp/80 syslog=udp/514,tcp/514,unix");
    expect(agent.stderr).toContain("-P ../lib ignored (plugins are built in)");
    expect(await agent.stop()).toBe(0);
  });

  test("-d: returns once attached; the daemon runs in its own session and sends to the collector", async () => {
    const listener = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(_s, data) {
          received.push(data.toString());
        },
      },
    });
    const received: string[] = [];
    const cmd = Bun.spawn([AGENT, "-d", "-o", "json-min", "-m", "file", "-u", `127.0.0.1:${listener.port}`], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await cmd.exited).toBe(0);
    expect(await new Response(cmd.stdout).text()).toBe("");
    // the daemon shares this stderr pipe and keeps it open: read only up to the command's line
    let err = "";
    const decoder = new TextDecoder();
    for await (const chunk of cmd.stderr) {
      err += decoder.decode(chunk, { stream: true });
      if (err.includes("running in the background")) break;
    }
    const pid = Number(/running in the background with PID (\d+)/.exec(err)?.[1]);
    expect(pid).toBeGreaterThan(0);
    daemons.push(pid);
    try {
      expect(err).toContain(`with PID ${pid} started in daemon mode`);
      expect(sessionOf(pid)).toBe(pid);
      expect(sessionOf(pid)).not.toBe(sessionOf(process.pid));
      const path = `${dir}/to-collector.txt`;
      writeFileSync(path, "daemon");
      const deadline = Date.now() + 5000;
      let record: Record<string, unknown> | undefined;
      while (!record && Date.now() < deadline) {
        record = received.map((t) => JSON.parse(t) as Record<string, unknown>).find((r) => `${r.FilePath}${r.File}` === path);
        await Bun.sleep(20);
      }
      expect(record).toMatchObject({ ProcPID: process.pid, FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 }, FileSize: 6 });
    } finally {
      process.kill(pid, "SIGTERM");
      expect(await exitedWithin(pid, 5000)).toBe(true);
      listener.close();
    }
  });

  test("-d --output-file with a relative path: the file is where the command ran, the daemon runs in /", async () => {
    const cmd = Bun.spawn([AGENT, "-d", "-m", "file", "--output-file", "daemon-records.json"], {
      cwd: dir,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await cmd.exited).toBe(0);
    let err = "";
    const decoder = new TextDecoder();
    for await (const chunk of cmd.stderr) {
      err += decoder.decode(chunk, { stream: true });
      if (err.includes("running in the background")) break;
    }
    const pid = Number(/running in the background with PID (\d+)/.exec(err)?.[1]);
    expect(pid).toBeGreaterThan(0);
    daemons.push(pid);
    try {
      expect(readlinkSync(`/proc/${pid}/cwd`)).toBe("/");
      expect(err).toContain(`file ${dir}/daemon-records.json (rotated at 100 MiB, 5 kept)`);
      const path = `${dir}/to-daemon-file.txt`;
      writeFileSync(path, "daemon");
      const deadline = Date.now() + 5000;
      let found = false;
      while (!found && Date.now() < deadline) {
        found =
          existsSync(`${dir}/daemon-records.json`) &&
          readFileSync(`${dir}/daemon-records.json`, "utf8").includes('"File": "to-daemon-file.txt"');
        await Bun.sleep(20);
      }
      expect(found).toBe(true);
    } finally {
      process.kill(pid, "SIGTERM");
      expect(await exitedWithin(pid, 5000)).toBe(true);
    }
  });

  test("-d: a daemon that cannot start makes the command fail with its reason", async () => {
    // a library named libbpf.so.1 that is not libbpf, found first through LD_LIBRARY_PATH
    const fake = `${dir}/fake-lib`;
    mkdirSync(fake, { recursive: true });
    copyFileSync("/lib/x86_64-linux-gnu/libz.so.1", `${fake}/libbpf.so.1`);
    const cmd = Bun.spawn([AGENT, "-d", "-u", "127.0.0.1:9"], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, LD_LIBRARY_PATH: fake },
    });
    expect(await cmd.exited).toBe(1);
    const err = await new Response(cmd.stderr).text();
    expect(err).toMatch(/^kflowd: .*libbpf/m);
    expect(err).not.toContain("running in the background");
  });

  test("-o table: a header and one row per record, within the width", async () => {
    const agent = await RunningAgent.start(["-o", "table", "-m", "file"]);
    agents.push(agent);
    const path = `${dir}/in-a-table.txt`;
    writeFileSync(path, "table");
    const row = await agent.waitFor(() => agent.lines.find((l) => l.includes("in-a-table.txt")), "the table row");
    expect(await agent.stop()).toBe(0);
    expect(agent.lines[0]).toContain("TIME");
    expect(agent.lines[0]).toContain("PID");
    // kflowd's columns: the event count and the file's last access (UTC)
    expect(agent.lines[0]).toMatch(/ COUNT .* LAST ACCESS /);
    expect(row).toContain(String(process.pid));
    expect(row).toMatch(/ F,CR,OP,MO,CW +[45] /);
    expect(row).toContain(` ${new Date(statSync(path).atimeMs).toISOString().slice(5, 19).replace("T", " ")} `);
    for (const line of agent.lines) expect(line.length).toBeLessThanOrEqual(120);
  });

  test("-D q: the timeout scans' decisions, as kflowd's queue debugging", async () => {
    const agent = await RunningAgent.start(["-o", "json-min", "-m", "file", "-t", "1,60", "-D", "q"]);
    agents.push(agent);
    const path = `${dir}/idle-open.txt`;
    const fd = openSync(path, "w");
    writeSync(fd, "x");
    // idle for a second: printed, then taken out (later events start a new record)
    const line = await agent.waitFor(
      () =>
        agent.stderr
          .split("\n")
          .find((l) => /^kflowd: debug: expiry: file key=[0-9a-f]{32} printed, ended idle=\d+\.\d{3}s age=\d+\.\d{3}s$/.test(l)),
      "the expiry debug line",
    );
    closeSync(fd);
    expect(line).toBeDefined();
    expect(await agent.stop()).toBe(0);
    // no debug lines of processes: q is not a process name here
    expect(agent.stderr).not.toContain("kflowd: debug: file ");
  });

  test("-D: debug lines for the named process only, on stderr", async () => {
    const agent = await RunningAgent.start(["-o", "json-min", "-m", "file", "-D", "touch"]);
    agents.push(agent);
    const path = `${dir}/debugged.txt`;
    const touch = Bun.spawn(["touch", path]);
    expect(await touch.exited).toBe(0);
    const line = await agent.waitFor(
      () => agent.stderr.split("\n").find((l) => l.startsWith("kflowd: debug: file") && l.includes(JSON.stringify(path))),
      "the debug line",
    );
    expect(line).toContain(`pid=${touch.pid} `);
    expect(await agent.stop()).toBe(0);
    const debugLines = agent.stderr.split("\n").filter((l) => l.startsWith("kflowd: debug:"));
    expect(debugLines.every((l) => l.includes('comm="touch"') || l.includes('exe="touch"'))).toBe(true);
  });

  test("-V: a statistics line every 10 seconds with the record rate and losses", async () => {
    const agent = await RunningAgent.start(["-o", "json-min", "-V", "-m", "file"]);
    agents.push(agent);
    const line = await agent.waitFor(
      () => agent.stderr.split("\n").find((l) => l.startsWith("kflowd: stats:")),
      "a statistics line",
      15_000,
    );
    expect(line).toMatch(/^kflowd: stats: \d+ records in \d+\.\d s \(\d+\.\d\/s, \d+ in all\); lost since last: ring full 0, /);
    // the features the banner reports degraded, named again
    expect(line).toMatch(/; degraded: (none|[\w-]+(, [\w-]+)*)$/);
    expect(await agent.stop()).toBe(0);
  });

  test("SIGTERM: a record still pending is printed and the agent exits 0 within 2 s", async () => {
    const agent = await RunningAgent.start(["-o", "json-min", "-m", "file"]);
    agents.push(agent);
    const path = `${dir}/held-open.txt`;
    // the file stays open in a live process: its record is pending in the kernel
    const holder = Bun.spawn(["sh", "-c", `exec 3>'${path}'; echo pending >&3; sleep 30`]);
    await Bun.sleep(300);
    expect(agent.fileRecords(path)).toEqual([]);
    const at = Date.now();
    const stopped = agent.stop();
    const code = await Promise.race([stopped, Bun.sleep(2000).then(() => "still running")]);
    expect(code).toBe(0);
    expect(Date.now() - at).toBeLessThan(2000);
    holder.kill();
    expect(agent.fileRecords(path)).toEqual([
      expect.objectContaining({ ProcPID: holder.pid, FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 1 } }),
    ]);
  });
});
