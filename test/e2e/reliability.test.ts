// Faults around the agent, each on the compiled agent with real activity: stdout closed by
// its reader (EPIPE: the agent ends when stdout was its only output, else runs on) or
// blocked by one that does not read, UDP collectors that are down
// (ICMP port unreachable) or unreachable (no route), SIGKILL (nothing of the agent stays in
// the kernel), and a second instance beside the first.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { cgroup2Mount } from "../../src/kernel.ts";
import { AGENT } from "../helpers/paths.ts";
import { peer } from "../helpers/peer.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { AgentProcess, StdoutFifo } from "./agent-process.ts";

setDefaultTimeout(90_000);
const skip = skipWithoutKernel("end-to-end reliability tests");
const dir = skip ? "" : mkdtempSync(`${tmpdir()}/kflowd-rel-`);
/** a long directory and file name make each record about 1.3 KB of JSON */
const churnDir = `${dir}/${"d".repeat(100)}`;
const LONG_NAME = "n".repeat(150);
/** file records per churn phase: ~50 MB of JSON, far more than a pipe and the sink's bound hold */
const PHASE = 40_000;

/** Opens and closes files: one file record each (CREATE/OPEN/CLOSE_WRITE). */
function churn(count: number): void {
  for (let i = 0; i < count; i++) closeSync(openSync(`${churnDir}/${LONG_NAME}${i % 64}`, "w"));
}

/** A UDP port nothing listens on (bound, then released). */
async function deadPort(hostname: string): Promise<number> {
  const s = await Bun.udpSocket({ hostname });
  const port = s.port;
  s.close();
  return port;
}

/** A TCP port free on 127.0.0.1 (bound, then released). */
async function freeTcpPort(): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/** Kills an agent a failed test left running. */
function reap(agent: AgentProcess | undefined): void {
  if (agent?.alive()) process.kill(agent.pid, "SIGKILL");
}

describe.skipIf(skip)("stdout faults", () => {
  beforeAll(() => mkdirSync(churnDir, { recursive: true }));

  test("the reader closes stdout (EPIPE) and stdout is the only output: the agent ends as a filter does, exit 0 and the summary", async () => {
    const fifo = new StdoutFifo(`${dir}/epipe-alone.fifo`);
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file"], { stdout: fifo.forAgent });
      fifo.releaseWriteEnd();
      writeFileSync(`${dir}/before-epipe-alone.txt`, "x");
      await agent.waitFor(() => (fifo.read(), fifo.text.includes("before-epipe-alone.txt")), "the first record on the FIFO");
      // the reader goes away; records to write (or, with none, the next look at stdout) show it
      fifo.close();
      churn(1000);
      expect(await Promise.race([agent.exited, Bun.sleep(20_000).then(() => "still running")])).toBe(0);
      expect(agent.stderr.match(/^kflowd: stdout: .*$/gm)).toEqual([
        "kflowd: stdout: EPIPE; its reader is gone and it is the only output: stopping",
      ]);
      expect(agent.summary().records).toBeGreaterThan(0);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
      fifo.close();
    }
  });

  test("kflowd | head -1: one record, then the agent exits 0 with its summary on stderr", async () => {
    const err = `${dir}/head.stderr`;
    const sh = Bun.spawn(["bash", "-c", `"$0" -o json-min -m file 2>"$1" | head -1; exit "\${PIPESTATUS[0]}"`, AGENT, err], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const out = new Response(sh.stdout).text();
    // files until head has its line and the pipeline ends
    let n = 0;
    const making = setInterval(() => writeFileSync(`${dir}/head-${n++ % 8}.txt`, "x"), 50);
    try {
      expect(await Promise.race([sh.exited, Bun.sleep(30_000).then(() => "still running")])).toBe(0);
    } finally {
      clearInterval(making);
      if (sh.exitCode === null) sh.kill("SIGKILL");
    }
    const line = (await out).trim();
    expect(line.split("\n")).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ InfoSequenceNumber: expect.any(Number) });
    const stderr = readFileSync(err, "utf8");
    expect(stderr).toContain("kflowd: stdout: EPIPE; its reader is gone and it is the only output: stopping\n");
    expect(stderr).toMatch(/^kflowd: stopped after \d+ records; lost: .*stdout dropped \d+/m);
  });

  test("EPIPE with another output: one line says so, the agent runs on with bounded memory, the file gets every record", async () => {
    const fifo = new StdoutFifo(`${dir}/epipe.fifo`);
    const file = `${dir}/epipe-records.json`;
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file", "--output-file", file], { stdout: fifo.forAgent });
      fifo.releaseWriteEnd();
      const path = `${dir}/before-epipe.txt`;
      writeFileSync(path, "x");
      await agent.waitFor(() => (fifo.read(), fifo.text.includes("before-epipe.txt")), "the first record on the FIFO");
      // the reader goes away: every later write fails with EPIPE
      fifo.close();
      const before = agent.rssMiB();
      churn(2 * PHASE);
      expect(agent.alive()).toBe(true);
      // ~100 MB of JSON went by; the burst's garbage goes back once it is over (held
      // records never would)
      const running = agent;
      await agent.waitFor(() => running.rssMiB() - before < 40, "memory back within 40 MiB of the start after the burst", 10_000);
      writeFileSync(`${dir}/after-epipe.txt`, "y");
      await agent.waitFor(
        () => readFileSync(file, "utf8").includes('"File": "after-epipe.txt"'),
        "a record in the file after EPIPE",
        30_000,
      );
      expect(agent.stderr.match(/^kflowd: stdout: .*$/gm)).toEqual([
        "kflowd: stdout: EPIPE; records are no longer printed there (counted as dropped)",
      ]);
      // no stack traces, no uncaught errors: only the banner and the agent's own lines
      expect(agent.strayStderr()).toEqual([]);
      expect(await agent.stop()).toBe(0);
      const { records, lost } = agent.summary();
      expect(records).toBeGreaterThan(2 * PHASE * 0.5);
      expect(lost["output file dropped"]).toBe(0);
      // ~100 MB of records: the file may have been rotated (at 100 MiB) on the way
      const rotated = readdirSync(dir).filter((n) => /^epipe-records\.json\.[1-9][0-9]*$/.test(n));
      const lines = [file, ...rotated.map((n) => `${dir}/${n}`)].reduce((n, f) => n + readFileSync(f, "utf8").split("\n").length - 1, 0);
      expect(lines).toBe(records);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
      fifo.close();
    }
  });

  test("a reader that stops reading: memory stays bounded while records pile up, and records come again once it reads", async () => {
    const fifo = new StdoutFifo(`${dir}/blocked.fifo`);
    let agent: AgentProcess | undefined;
    let reading: ReturnType<typeof setInterval> | undefined;
    try {
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file"], { stdout: fifo.forAgent });
      fifo.releaseWriteEnd();
      const start = agent.rssMiB();
      churn(PHASE);
      await Bun.sleep(500);
      const stalled = agent.rssMiB();
      churn(PHASE);
      churn(PHASE);
      // records wait in the kernel for up to 5 s of a stuck reader; then the agent drains
      // again and drops beyond its bound at stdout
      await Bun.sleep(5500);
      churn(PHASE);
      await Bun.sleep(500);
      const after = agent.rssMiB();
      expect(agent.alive()).toBe(true);
      // unbounded buffering would hold all ~150 MB of JSON; the first phase also warms the heap
      expect(after - start).toBeLessThan(100);
      // what grows: the 8 MiB held for stdout and the ring buffer's pages (mapped twice) as
      // records wait there
      expect(after - stalled).toBeLessThan(56);
      expect(agent.stderr).toMatch(/^kflowd: stdout: the reader is \d+ MiB behind; records are dropped until it catches up \(counted\)$/m);

      // the reader reads again; a new file is made every 100 ms until one is printed
      reading = setInterval(() => fifo.read(), 5);
      let n = 0;
      let lastMade = 0;
      await agent.waitFor(
        () => {
          if (Date.now() - lastMade >= 100) {
            writeFileSync(`${dir}/resumed-${n++}.txt`, "again");
            lastMade = Date.now();
          }
          return fifo.text.includes('"File": "resumed-');
        },
        "a record after the reader resumed",
        20_000,
      );
      const records = fifo.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.some((r) => /^resumed-\d+\.txt$/.test(String(r.File)) && r.ProcPID === process.pid)).toBe(true);
      expect(await agent.stop()).toBe(0);
      expect(agent.summary().records).toBeGreaterThan(records.length);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      clearInterval(reading);
      reap(agent);
      fifo.close();
    }
  });

  test("SIGTERM while nobody reads stdout: the agent gives up on the rest and exits 0 within 5 s", async () => {
    const fifo = new StdoutFifo(`${dir}/stuck.fifo`);
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file"], { stdout: fifo.forAgent });
      fifo.releaseWriteEnd();
      churn(5000); // ~6 MB: the pipe is full, the rest waits in the agent
      await Bun.sleep(300);
      const stopped = agent.stop();
      expect(await Promise.race([stopped, Bun.sleep(5000).then(() => "still running")])).toBe(0);
      expect(agent.stderr).toContain("kflowd: stdout: the reader did not take the last records; records are no longer printed there");
      expect(agent.summary().records).toBeGreaterThan(0);
    } finally {
      reap(agent);
      fifo.close();
    }
  });
});

describe.skipIf(skip)("UDP collector faults", () => {
  test("collectors that are down (ICMP port unreachable): counted as failed, a live collector still gets every record", async () => {
    const received: string[] = [];
    const live = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(_s, data) {
          received.push(new TextDecoder().decode(data));
        },
      },
    });
    const down4 = await deadPort("127.0.0.1");
    const down6 = await deadPort("::1");
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file", "-u", `127.0.0.1:${down4},[::1]:${down6},127.0.0.1:${live.port}`]);
      for (let i = 0; i < 50; i++) writeFileSync(`${dir}/to-dead-collectors-${i}.txt`, "x");
      const last = `${dir}/to-dead-collectors-49.txt`;
      const names = Array.from({ length: 50 }, (_, i) => `"File": "to-dead-collectors-${i}.txt"`);
      await agent.waitFor(() => received.some((t) => t.includes(names[49]!)), "the last record at the live collector");
      // each of them reached the live collector, once
      expect(names.map((n) => received.filter((t) => t.includes(n)).length)).toEqual(names.map(() => 1));
      // a datagram goes out as the record is formatted, stdout's copy at the end of the batch
      await agent.waitFor(() => agent!.fileRecords(last).length > 0, "the last record on stdout");
      expect(agent.fileRecords(last)).toHaveLength(1);
      expect(agent.alive()).toBe(true);
      expect(await agent.stop()).toBe(0);
      const { records, lost } = agent.summary();
      expect(lost["UDP sends failed"]).toBeGreaterThan(0);
      expect(lost["UDP sends failed"]).toBeLessThanOrEqual(2 * records);
      expect(agent.stderr).not.toContain("ECONNREFUSED");
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
      live.close();
    }
  });

  test("collectors without a route (host and network unreachable, IPv4 and IPv6): every send counted as failed", async () => {
    // a network namespace of its own: loopback, two unreachable routes and no default route
    const setup =
      'ip link set lo up && ip route add unreachable 198.51.100.0/24 && ip -6 route add unreachable 2001:db8::/32 && exec "$0" "$@"';
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start(["-o", "json-min", "-m", "file", "-u", "198.51.100.7:2056,[2001:db8::7]:2056,203.0.113.7:2056"], {
        prefix: ["unshare", "--net", "sh", "-c", setup],
      });
      const path = `${dir}/no-route.txt`;
      writeFileSync(path, "x");
      await agent.waitFor(() => agent!.fileRecords(path).length > 0, "the record on stdout");
      expect(agent.alive()).toBe(true);
      expect(await agent.stop()).toBe(0);
      const { records, lost } = agent.summary();
      expect(records).toBeGreaterThan(0);
      expect(lost["UDP sends failed"]).toBe(3 * records);
      expect(agent.strayStderr()).toEqual([]);
    } finally {
      reap(agent);
    }
  });
});

/** The BPF objects a process holds, by the ids in /proc/PID/fdinfo. */
function heldBpf(pid: number): { progs: number[]; links: number[]; maps: number[] } {
  const held = { progs: [] as number[], links: [] as number[], maps: [] as number[] };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const info = () => readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    const id = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info())?.[1]);
    if (target === "anon_inode:bpf-prog") held.progs.push(id("prog_id"));
    else if (target === "anon_inode:bpf_link") held.links.push(id("link_id"));
    else if (target === "anon_inode:bpf-map") held.maps.push(id("map_id"));
  }
  return held;
}

/** Ids the kernel lists (bpftool -j prog|link|map show), or attached to a cgroup. */
function kernelIds(what: "prog" | "link" | "map" | "cgroup", cgroup?: string): Set<number> {
  const args = what === "cgroup" ? ["cgroup", "show", cgroup!] : [what, "show"];
  const out = Bun.spawnSync(["bpftool", "-j", ...args]);
  if (out.exitCode !== 0) throw new Error(`bpftool ${args.join(" ")}: ${out.stderr.toString()}`);
  const text = out.stdout.toString().trim();
  return new Set((text ? (JSON.parse(text) as { id: number }[]) : []).map((e) => e.id));
}

/** Everything under a directory, recursively (bpffs pins). */
function tree(path: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path)) {
    const p = `${path}/${name}`;
    out.push(p);
    if (statSync(p).isDirectory()) out.push(...tree(p));
  }
  return out;
}

describe.skipIf(skip)("SIGKILL", () => {
  test("after kill -9 no program, link, map or cgroup attachment of the agent is left, nothing is pinned", async () => {
    const cgroup = cgroup2Mount(readFileSync("/proc/self/mountinfo", "utf8"));
    expect(cgroup).toBeDefined();
    const pinnedBefore = tree("/sys/fs/bpf");
    const agent = await AgentProcess.start(["-o", "json-min"], { stdout: "ignore" });
    let held: ReturnType<typeof heldBpf>;
    try {
      held = heldBpf(agent.pid);
      expect(held.progs.length).toBeGreaterThan(5);
      expect(held.links.length).toBeGreaterThan(5);
      expect(held.maps.length).toBeGreaterThan(3);
      // the kernel lists them while the agent runs, and the socket programs sit on the cgroup root
      const progs = kernelIds("prog");
      expect(held.progs.filter((id) => !progs.has(id))).toEqual([]);
      const links = kernelIds("link");
      expect(held.links.filter((id) => !links.has(id))).toEqual([]);
      const attached = kernelIds("cgroup", cgroup);
      expect(held.progs.filter((id) => attached.has(id)).length).toBeGreaterThan(0);
    } finally {
      await agent.stop("SIGKILL");
    }
    expect(agent.alive()).toBe(false);
    // objects are freed after their last reference is dropped (deferred work): poll
    const left = () => {
      const progs = kernelIds("prog");
      const links = kernelIds("link");
      const maps = kernelIds("map");
      const attached = kernelIds("cgroup", cgroup);
      return [
        ...held.progs.filter((id) => progs.has(id) || attached.has(id)).map((id) => `prog ${id}`),
        ...held.links.filter((id) => links.has(id)).map((id) => `link ${id}`),
        ...held.maps.filter((id) => maps.has(id)).map((id) => `map ${id}`),
      ];
    };
    const deadline = Date.now() + 10_000;
    while (left().length > 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(left()).toEqual([]);
    expect(tree("/sys/fs/bpf")).toEqual(pinnedBefore);
  });
});

describe.skipIf(skip)("two instances", () => {
  const agents: AgentProcess[] = [];
  afterAll(() => agents.forEach(reap));

  test("a second agent beside the first: both report the same activity, each stops cleanly", async () => {
    const first = await AgentProcess.start(["-o", "json-min"]);
    agents.push(first);
    const second = await AgentProcess.start(["-o", "json-min"]);
    agents.push(second);
    const path = `${dir}/seen-by-both.txt`;
    const fd = openSync(path, "w");
    writeSync(fd, "both");
    closeSync(fd);
    const port = await freeTcpPort();
    const server = await peer("tcp-server", "127.0.0.1", String(port), "700");
    const client = await peer("tcp-client", "127.0.0.1", String(port), "300");
    expect(await client.exited).toBe(0);
    expect(await server.exited).toBe(0);
    const clientRecord = (a: AgentProcess) => a.records.find((r) => r.ProcPID === client.pid && r.SockProtocol === "TCP");
    for (const a of [first, second]) {
      await a.waitFor(() => a.fileRecords(path).length > 0 && clientRecord(a), `agent ${a.pid}: the file and the client's socket`);
      expect(a.fileRecords(path)).toEqual([
        expect.objectContaining({ ProcPID: process.pid, FileEvents: { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 }, FileSize: 4 }),
      ]);
      expect(clientRecord(a)).toMatchObject({ SockRemotePort: port, SockTxBytes: 300, SockRxBytes: 700, SockState: "TCP_CLOSE" });
    }
    // the same facts in both, apart from each agent's own Info values and the ages and
    // durations its own programs timed
    const facts = (r: Record<string, unknown> | undefined) => Object.entries(r ?? {}).filter(([k]) => !/^Info|Age$|Duration$/.test(k));
    expect(facts(first.fileRecords(path)[0])).toEqual(facts(second.fileRecords(path)[0]));
    expect(facts(clientRecord(first))).toEqual(facts(clientRecord(second)));
    // the second stops; the first still works
    expect(await second.stop()).toBe(0);
    const later = `${dir}/after-the-second-stopped.txt`;
    writeFileSync(later, "one");
    await first.waitFor(() => first.fileRecords(later).length > 0, "the first agent's record after the second stopped");
    expect(await first.stop()).toBe(0);
    for (const a of [first, second]) {
      expect(a.invalid).toEqual([]);
      expect(a.summary().lost.malformed).toBe(0);
      expect(a.strayStderr()).toEqual([]);
    }
  });
});
