/**
 * Reads what payload/run.sh printed and checks it against what payload/scenario.sh did.
 * Each check is named so that the matrix can show which feature passed where.
 */
export interface ScenarioOutput {
  readonly records: Record<string, unknown>[];
  readonly badLines: string[];
  readonly pids: Map<string, number>;
  readonly stats: Map<string, { ino: number; size: number }>;
  /** programs the scenario could not run here (a 32-bit one without compat support), with why */
  readonly notRun: Map<string, string>;
  readonly agentRc: number;
  readonly agentStderr: string;
  /** feature -> tier, from the agent's start-up lines */
  readonly tiers: Map<string, string>;
  /** case -> the cgroup its process ran in, and the container id that names ("-": none) */
  readonly cgroups: Map<string, { path: string; id: string }>;
  /** the scenario's own lines ("=== ..."), for notes the checks read */
  readonly notes: string;
}

function between(text: string, begin: string, end: string): string {
  const a = text.indexOf(begin);
  const b = text.indexOf(end, a);
  return a >= 0 && b > a ? text.slice(a + begin.length, b) : "";
}

export function parseOutput(output: string): ScenarioOutput {
  const records: Record<string, unknown>[] = [];
  const badLines: string[] = [];
  for (const line of between(output, "=== RECORDS BEGIN\n", "=== RECORDS END").split("\n")) {
    if (line === "") continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      badLines.push(line);
    }
  }
  const pids = new Map<string, number>();
  for (const m of output.matchAll(/^=== PID (\S+) (\d+)$/gm)) pids.set(m[1]!, Number(m[2]));
  const stats = new Map<string, { ino: number; size: number }>();
  for (const m of output.matchAll(/^=== STAT (\S+) (\d+) (\d+)$/gm)) {
    stats.set(m[1]!, { ino: Number(m[2]), size: Number(m[3]) });
  }
  const notRun = new Map<string, string>();
  for (const m of output.matchAll(/^=== NOTRUN (\S+) (.*)$/gm)) notRun.set(m[1]!, m[2]!);
  const cgroups = new Map<string, { path: string; id: string }>();
  for (const m of output.matchAll(/^=== CGROUP (\S+) (\S+) (\S+)$/gm)) cgroups.set(m[1]!, { path: m[2]!, id: m[3]! });
  const agentStderr = between(output, "=== AGENT STDERR BEGIN\n", "=== AGENT STDERR END");
  const tiers = new Map<string, string>();
  for (const m of agentStderr.matchAll(/^ {2}hooks for ([\w-]+): (\S+) \(/gm)) tiers.set(m[1]!, m[2]!);
  return {
    records,
    badLines,
    pids,
    stats,
    notRun,
    agentRc: Number(/^=== AGENT RC (\d+)$/m.exec(output)?.[1] ?? -1),
    agentStderr,
    tiers,
    cgroups,
    notes: output
      .split("\n")
      .filter((l) => l.startsWith("=== "))
      .join("\n"),
  };
}

export interface Check {
  readonly feature: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

function fileRecord(out: ScenarioOutput, path: string, pid: number | undefined) {
  return out.records.find((r) => `${r.FilePath}${r.File}` === path && r.ProcPID === pid);
}

function sameEvents(actual: unknown, expected: Record<string, number>): boolean {
  return JSON.stringify(actual) === JSON.stringify(expected);
}

/** The checks of path operations, whose inode comes from the file-inode tier. */
export function pathOpChecks(out: ScenarioOutput, dir: string): Check[] {
  const checks: Check[] = [];
  const moved = out.stats.get(`${dir}/moved.txt`);
  const soft = out.stats.get(`${dir}/soft.txt`);
  const expectOp = (name: string, path: string, pidName: string, want: Record<string, unknown>) => {
    const r = fileRecord(out, path, out.pids.get(pidName));
    const ok = r !== undefined && Object.entries(want).every(([k, v]) => JSON.stringify(r[k]) === JSON.stringify(v));
    checks.push({
      feature: "file-inode",
      name,
      ok,
      detail: r ? JSON.stringify(Object.fromEntries(Object.keys(want).map((k) => [k, r[k]]))) : `no record for ${path}`,
    });
  };
  expectOp("mv", `${dir}/moved.txt`, "mv", {
    FileEvents: { MOVED_FROM: 1, MOVED_TO: 1 },
    FileOrigin: "tomove.txt",
    FileInode: moved?.ino,
  });
  expectOp("ln", `${dir}/hard.txt`, "ln", { FileEvents: { CREATE: 1 }, FileMode: "hardlink", FileInode: moved?.ino });
  expectOp("ln -s", `${dir}/soft.txt`, "lns", { FileEvents: { CREATE: 1 }, FileMode: "symlink", FileInode: soft?.ino });
  expectOp("chmod", `${dir}/moved.txt`, "chmod", { FileEvents: { ATTRIB: 1 }, FilePermissions: "0600/-rw-------" });
  expectOp("rm", `${dir}/hard.txt`, "rm", { FileEvents: { DELETE: 1 }, FileInode: moved?.ino });
  // by relative names: named, and no change keys where the operation changed neither
  const rel = `${dir}/rel`;
  const c = out.stats.get(`${rel}/sub/c.txt`);
  const t = out.stats.get(`${rel}/t.txt`);
  const tBefore = out.stats.get(`${rel}/t.txt.before`);
  const unchanged = { FileSizeChange: undefined, FileModificationTimeChange: undefined };
  expectOp("mv a.txt b.txt", `${rel}/b.txt`, "rmv", {
    FileEvents: { MOVED_FROM: 1, MOVED_TO: 1 },
    FileOrigin: "a.txt",
    FileInode: c?.ino,
    ...unchanged,
  });
  expectOp("chmod 640 b.txt", `${rel}/b.txt`, "rchmod", { FileEvents: { ATTRIB: 1 }, FilePermissions: "0640/-rw-r-----", ...unchanged });
  expectOp("ln b.txt hard.txt", `${rel}/hard.txt`, "rln", {
    FileEvents: { CREATE: 1 },
    FileMode: "hardlink",
    FileInodeLinkCount: 2,
    FileInode: c?.ino,
    ...unchanged,
  });
  expectOp("ln -s b.txt soft.txt", `${rel}/soft.txt`, "rlns", {
    FileEvents: { CREATE: 1 },
    FileMode: "symlink",
    FileSize: 5,
    FileInode: out.stats.get(`${rel}/soft.txt`)?.ino,
    ...unchanged,
  });
  expectOp("rm hard.txt", `${rel}/hard.txt`, "rrm", { FileEvents: { DELETE: 1 }, FileInodeLinkCount: 1, FileInode: c?.ino, ...unchanged });
  expectOp("truncate -s 4 t.txt", `${rel}/t.txt`, "rtrunc", {
    FileSize: 4,
    FileSizeChange: tBefore ? 4 - tBefore.size : undefined,
    FileInode: t?.ino,
  });
  expectOp("touch -d t.txt", `${rel}/t.txt`, "rtouch", {
    FileModificationTime: "Sat, Feb 03 2001 04:05:06.000000000 UTC",
    FileSizeChange: undefined,
  });
  expectOp("mv ../b.txt c.txt in sub", `${rel}/sub/c.txt`, "rup", {
    FileEvents: { MOVED_FROM: 1, MOVED_TO: 1 },
    FileOrigin: "b.txt",
    FileInode: c?.ino,
    ...unchanged,
  });
  expectOp("rm -r tree", `${rel}/tree/x/t.txt`, "rrmr", { FileEvents: { DELETE: 1 }, FileInodeLinkCount: 0 });
  // a script's exec: with kprobes it carries the inode, without only its name
  const script = `${dir}/script.sh`;
  const exec = out.records.find(
    (r) =>
      `${r.FilePath}${r.File}` === script &&
      r.ProcPID === out.pids.get("script") &&
      (r.FileEvents as Record<string, number>)?.OPEN_EXEC === 1,
  );
  const withInode = out.agentStderr.includes("hooks for file-inode: kprobes");
  checks.push({
    feature: "file-inode",
    name: "script exec",
    ok: exec !== undefined && exec.FileInode === (withInode ? out.stats.get(script)?.ino : undefined),
    detail: exec
      ? JSON.stringify({ FileEvents: exec.FileEvents, FileInode: exec.FileInode, withInode })
      : `no OPEN_EXEC record for ${script}`,
  });
  return checks;
}

/**
 * The checks of socket records and their application messages: TCP and HTTP (wget,
 * httpd), UDP and DNS (nslookup), UNIX and SYSLOG (logger, guests only).
 */
export function socketChecks(out: ScenarioOutput, port: number, guest: boolean): Check[] {
  const checks: Check[] = [];
  const sock = (pidName: string) => out.records.find((r) => r.InfoMonitor === "socket" && r.ProcPID === out.pids.get(pidName));
  const check = (name: string, ok: boolean, r: unknown) =>
    checks.push({ feature: "socket", name, ok, detail: JSON.stringify(r ?? null).slice(0, 400) });
  const c = sock("wget");
  check(
    "TCP client (wget)",
    c?.SockProtocol === "TCP" &&
      c.SockRole === "CLIENT" &&
      c.SockState === "TCP_CLOSE" &&
      c.SockRemotePort === port &&
      (c.SockTxBytes as number) > 0 &&
      (c.SockRxBytes as number) > 17,
    c,
  );
  const s = sock("httpd");
  check(
    "TCP server (httpd)",
    s?.SockRole === "SERVER" && s.SockLocalPort === port && s.SockRxBytes === c?.SockTxBytes && s.SockTxBytes === c?.SockRxBytes,
    s,
  );
  const u = sock("nslookup");
  check("UDP (nslookup)", u?.SockProtocol === "UDP" && u.SockRemotePort === 53 && (u.SockTxPackets as number) >= 1, u);
  const first = (r: Record<string, unknown> | undefined, key: string) => (r?.[key] as Record<string, unknown>[] | undefined)?.[0];
  check(
    "DNS query decoded (nslookup)",
    u?.App === "DNS" && JSON.stringify(first(u, "AppTxDns")?.ResourceRecords) === '[["A","kflowd.test"]]',
    u,
  );
  check("HTTP request decoded (wget)", c?.App === "HTTP" && first(c, "AppTxHttp")?._Url === "/index.html", c);
  // the connection open before the start: owners from the iterator; only what was sent
  // after the start is counted
  const pc = sock("preclient");
  check(
    "TCP open before the start, client",
    pc?.SockRole === "CLIENT" && pc.SockRemotePort === port + 1 && pc.SockTxBytes === 6 && pc.SockState === "TCP_CLOSE",
    pc,
  );
  const ps = sock("preserver");
  check("TCP open before the start, server", ps?.SockRole === "SERVER" && ps.SockLocalPort === port + 1 && ps.SockRxBytes === 6, ps);
  if (guest) {
    const l = sock("logger");
    check("UNIX datagram (logger)", l?.SockFamily === "AF_UNIX" && l.SockAddress === "/dev/log" && (l.SockTxBytes as number) > 0, l);
    check("SYSLOG decoded (logger)", l?.App === "SYSLOG" && first(l, "AppTxSyslog")?.Message === "hello-syslog", l);
  }
  return checks;
}

/** The checks of the file feature; dir is SCENARIO_DIR of the run. */
export function fileChecks(out: ScenarioOutput, dir: string): Check[] {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ feature: "file", name, ok, detail });
  const expectFile = (name: string, path: string, pidName: string, events: Record<string, number>) => {
    const r = fileRecord(out, path, out.pids.get(pidName));
    const st = out.stats.get(path);
    const ok =
      r !== undefined &&
      st !== undefined &&
      sameEvents(r.FileEvents, events) &&
      r.FileEventCount === Object.values(events).reduce((a, b) => a + b, 0) &&
      r.FileSize === st.size &&
      r.FileInode === st.ino;
    check(
      name,
      ok,
      r
        ? `got ${JSON.stringify(r.FileEvents)} size ${r.FileSize} inode ${r.FileInode}, stat ${JSON.stringify(st)}`
        : `no record for ${path}`,
    );
  };

  check("agent ran and stopped cleanly", out.agentRc === 0, `agent exit ${out.agentRc}`);
  // every count in the agent's "lost: ..." summary is zero
  const lost = /lost: ([^;]*);/.exec(out.agentStderr)?.[1];
  // (processes with an io_uring the kernel's requests cannot be read of: uringChecks() counts
  // on them; runs the kernel skipped: accountedForSkips() weighs them)
  const lostButUring = lost?.replace(/io_uring processes unseen \d+/, "").replace(/program runs skipped by the kernel \d+/, "");
  check("nothing lost", lostButUring !== undefined && !/[1-9]/.test(lostButUring), out.agentStderr.trim().split("\n").at(-1) ?? "");
  check(
    "every line is valid JSON",
    out.badLines.length === 0 && out.records.length > 0,
    `${out.badLines.length} bad of ${out.records.length + out.badLines.length}`,
  );
  // the start-up self-test: the canary's files and sockets were all seen, and nothing is degraded
  const selfTest = /^ {2}self-test: (\d+)\/(\d+) passed[^\n]*$/m.exec(out.agentStderr);
  check(
    "self-test passed",
    selfTest !== null && selfTest[1] === selfTest[2] && Number(selfTest[2]) > 0,
    selfTest?.[0] ?? "no self-test line",
  );
  expectFile("echo > file", `${dir}/echo.txt`, "echo", { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
  const cat = fileRecord(out, `${dir}/echo.txt`, out.pids.get("cat"));
  check(
    "cat file",
    cat !== undefined && sameEvents(cat.FileEvents, { OPEN: 1, ACCESS: 1, CLOSE_NOWRITE: 1 }),
    JSON.stringify(cat?.FileEvents ?? null),
  );
  expectFile("exit with file open", `${dir}/open.txt`, "exit", { CREATE: 1, OPEN: 1, MODIFY: 2, CLOSE_WRITE: 1 });
  const deep = [...out.stats.keys()].find((p) => p.endsWith("/deep.txt")) ?? "";
  expectFile("40-level path", deep, "deep", { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 });
  return checks;
}

/**
 * The checks of test/fixtures/fileops.c, run natively (c64) and as a 32-bit program (c32,
 * feature file-32bit): the same records either way. A 32-bit program the kernel cannot
 * run (no compat support, or turned off) gives one check saying so.
 */
export function fileopsChecks(out: ScenarioOutput, dir: string, bits: "64" | "32"): Check[] {
  const feature = bits === "32" ? "file-32bit" : "file-at";
  const name = `c${bits}`;
  const pid = out.pids.get(name);
  const checks: Check[] = [];
  const notRun = out.notRun.get(name);
  if (notRun !== undefined && bits === "32") {
    // nothing of it may have been read as a 64-bit program's calls either
    const stray = out.records.filter((r) => r.ProcPID === pid && String(r.FilePath).startsWith(`${dir}/${name}/`));
    checks.push({ feature, name: "32-bit program runs here", ok: stray.length === 0, detail: `not run: ${notRun.trim().slice(0, 120)}` });
    return checks;
  }
  const base = `${dir}/${name}/sub`;
  const mine = out.records.filter((r) => r.ProcPID === pid);
  const find = (path: string, events: Record<string, number>) =>
    mine.find((r) => `${r.FilePath}${r.File}` === path && JSON.stringify(r.FileEvents) === JSON.stringify(events));
  const expectFile = (what: string, path: string, events: Record<string, number>, want: Record<string, unknown> = {}) => {
    const r = find(path, events);
    const ok = r !== undefined && Object.entries(want).every(([k, v]) => JSON.stringify(r[k]) === JSON.stringify(v));
    const got = mine.filter((x) => `${x.FilePath}${x.File}` === path).map((x) => x.FileEvents);
    checks.push({
      feature,
      name: what,
      ok,
      detail: r
        ? JSON.stringify(Object.fromEntries(Object.keys(want).map((k) => [k, r[k]])))
        : `no ${JSON.stringify(events)} for ${path}; got ${JSON.stringify(got)}`,
    });
  };
  expectFile("openat+write+close", `${base}/f.txt`, { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 }, { FileSize: 8, FileSizeChange: 8 });
  expectFile("open+read+close", `${base}/f.txt`, { OPEN: 1, ACCESS: 1, CLOSE_NOWRITE: 1 }, { FileSize: 8 });
  expectFile("renameat", `${base}/g.txt`, { MOVED_FROM: 1, MOVED_TO: 1 }, { FileOrigin: "f.txt", FileSizeChange: undefined });
  expectFile("fchmodat", `${base}/g.txt`, { ATTRIB: 1 }, { FilePermissions: "0600/-rw-------" });
  expectFile("linkat", `${base}/h.txt`, { CREATE: 1 }, { FileMode: "hardlink", FileInodeLinkCount: 2 });
  expectFile("symlinkat", `${base}/s.txt`, { CREATE: 1 }, { FileMode: "symlink", FileSize: 5 });
  expectFile("unlinkat", `${base}/h.txt`, { DELETE: 1 }, { FileInodeLinkCount: 1 });
  expectFile("truncate", `${base}/g.txt`, { MODIFY: 1 }, { FileSize: 3 });
  expectFile("writev+pwrite, close_range", `${base}/v.txt`, { CREATE: 1, OPEN: 1, MODIFY: 2, CLOSE_WRITE: 1 }, { FileSize: 9 });
  const unix = mine.filter((r) => r.SockFamily === "AF_UNIX");
  checks.push({
    feature,
    name: "UNIX datagram write+read",
    ok: unix.some((r) => r.SockTxBytes === 10) && unix.some((r) => r.SockRxBytes === 10),
    detail: JSON.stringify(unix.map((r) => [r.SockTxBytes, r.SockRxBytes])),
  });
  const udp = mine.find((r) => r.SockProtocol === "UDP");
  const rr = (udp?.AppTxDns as Record<string, unknown>[] | undefined)?.[0]?.ResourceRecords;
  checks.push({
    feature,
    name: "UDP sendto, DNS captured",
    ok: udp?.SockRemotePort === 53 && udp.SockTxPackets === 1 && JSON.stringify(rr) === '[["A","kflowd.test"]]',
    detail: JSON.stringify(udp ?? null).slice(0, 300),
  });
  return checks;
}

/**
 * The checks of ProcCgroup and ProcContainerId: a file written and a TCP connection made
 * by processes in containers' cgroups (CRI-O under kubepods, kubepods with the cgroupfs
 * driver), the accepting server in a docker container's, the connection open before the
 * start (the iterator reads its process's cgroup), and every record of the scenario's
 * processes named.
 */
export function cgroupChecks(out: ScenarioOutput, dir: string): Check[] {
  const checks: Check[] = [];
  const expectCgroup = (name: string, r: Record<string, unknown> | undefined, which: string) => {
    const want = out.cgroups.get(which);
    const ok =
      want !== undefined && r !== undefined && r.ProcCgroup === want.path && r.ProcContainerId === (want.id === "-" ? undefined : want.id);
    checks.push({
      feature: "cgroup",
      name,
      ok,
      detail: `want ${JSON.stringify(want ?? null)}, got ${r ? JSON.stringify({ ProcPID: r.ProcPID, ProcCgroup: r.ProcCgroup, ProcContainerId: r.ProcContainerId }) : "no record"}`,
    });
  };
  const sock = (pidName: string) => out.records.find((r) => r.InfoMonitor === "socket" && r.ProcPID === out.pids.get(pidName));
  expectCgroup("file in a CRI-O container", fileRecord(out, `${dir}/cg.txt`, out.pids.get("cgfile")), "cgfile");
  expectCgroup("TCP client in a kubepods (cgroupfs) container", sock("wget"), "wget");
  expectCgroup("TCP server accepting in a docker container", sock("httpd"), "httpd");
  expectCgroup("TCP open before the start, client (iterator)", sock("preclient"), "pre");
  expectCgroup("TCP open before the start, server (iterator)", sock("preserver"), "pre");
  const pids = new Set(out.pids.values());
  const mine = out.records.filter((r) => pids.has(r.ProcPID as number));
  const unnamed = mine.filter((r) => typeof r.ProcCgroup !== "string");
  checks.push({
    feature: "cgroup",
    name: "every record of the scenario's processes names its cgroup",
    ok: mine.length > 0 && unnamed.length === 0,
    detail: `${unnamed.length} of ${mine.length} without ProcCgroup: ${JSON.stringify(unnamed.slice(0, 2)).slice(0, 400)}`,
  });
  return checks;
}

/** test/fixtures/uring-ops.c's files, relative to its directory, and how many records each gets. */
const URING_FILES: readonly (readonly [string, number, ...string[]])[] = [
  ["rw.txt", 2],
  ["sized.txt", 1],
  ["fixed.txt", 1],
  // renameat, unlinkat (5.11), linkat, symlinkat (5.15): left out together where one is missing
  ["sub/old.txt", 1, "renameat"],
  ["sub/new.txt", 2, "renameat"],
  ["sub/hard.txt", 2, "renameat"],
  ["sub/soft.txt", 2, "renameat"],
  // splice (5.7), tee (5.8)
  ["spliced-in.txt", 2, "splice", "tee"],
  ["spliced-out.txt", 1, "splice", "tee"],
  // setxattr, fsetxattr (5.19), where the guest's file system takes user xattrs (tmpfs 6.6+)
  ["xattr.txt", 2, "setxattr", "fsetxattr", "xattrs-here"],
  ["fxattr.txt", 1, "setxattr", "fsetxattr", "xattrs-here"],
  // opens into registered slots (5.19 for an allocated one)
  ["slot.txt", 1, "openat-slot"],
  ["slot-alloc.txt", 1, "openat-slot"],
];

/** What differs between the two runs by nature: directory, PIDs, inode numbers, times. */
const URING_VARYING = /^(Info|ProcPID$|ProcTID$|ProcPPID$|ProcAge$|FileInode$|FilePath$|FileEventsDuration$|File\w*Time(Change)?$)/;

function uringShape(r: Record<string, unknown>, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = { FileRelPath: `${String(r.FilePath).slice(dir.length + 1)}${r.File}` };
  for (const [k, v] of Object.entries(r)) if (!URING_VARYING.test(k)) out[k] = v;
  out.FileInodeKnown = typeof r.FileInode === "number" && r.FileInode > 0;
  return out;
}

const URING_SOCK_KEYS = /^(Proc$|SockProtocol$|SockRole$|SockState$|SockFamily$|Sock(Tx|Rx)(Bytes|DataPackets|Packets|Flags)$)/;

/**
 * io_uring (test/fixtures/uring-ops.c): where the kernel's requests are read, each
 * record of the ring's operations equals its syscall twin's; where they are not (before
 * 6.0), the banner says so and the process that set up a ring is counted.
 */
export function uringChecks(out: ScenarioOutput, dir: string): Check[] {
  const feature = "io_uring";
  const checks: Check[] = [];
  const tier = out.tiers.get(feature);
  const notRun = out.notRun.get("uuring") ?? out.notRun.get("usys");
  if (notRun !== undefined) {
    return [{ feature, name: "uring-ops runs", ok: false, detail: notRun.trim().slice(0, 200) }];
  }
  const pidU = out.pids.get("uuring");
  const pidS = out.pids.get("usys");
  if (pidU === undefined || pidS === undefined) return [{ feature, name: "uring-ops runs", ok: false, detail: "no PID printed" }];
  if (tier !== "uring-tracepoints") {
    const unseen = Number(/io_uring processes unseen (\d+)/.exec(out.agentStderr)?.[1] ?? 0);
    checks.push({
      feature,
      name: "degraded io_uring named and counted",
      ok: /hooks for io_uring: \S+ \(degraded: /.test(out.agentStderr) && /degraded: .*io_uring/.test(out.agentStderr) && unseen >= 2,
      detail: `tier ${tier}, io_uring processes unseen ${unseen}`,
    });
    return checks;
  }
  const unsupported = new Set([...out.notes.matchAll(/^=== URING uuring unsupported (\S+)$/gm)].map((m) => m[1]!));
  for (const [name, count, ...needs] of URING_FILES) {
    if (needs.some((n) => unsupported.has(n))) continue;
    const of = (pid: number, mode: string) =>
      out.records
        .filter((r) => r.ProcPID === pid && `${r.FilePath}${r.File}` === `${dir}/u${mode}/${name}`)
        .map((r) => uringShape(r, `${dir}/u${mode}`))
        .map((r) => JSON.stringify(r))
        .sort();
    const u = of(pidU, "uring");
    const s = of(pidS, "sys");
    // the keys whose values differ, record by record (uring / sys)
    const diff = u.map((x, i) => {
      const [ru, rs] = [JSON.parse(x) as Record<string, unknown>, JSON.parse(s[i] ?? "{}") as Record<string, unknown>];
      return [...new Set([...Object.keys(ru), ...Object.keys(rs)])]
        .filter((k) => JSON.stringify(ru[k]) !== JSON.stringify(rs[k]))
        .map((k) => `${k}: ${JSON.stringify(ru[k])} / ${JSON.stringify(rs[k])}`)
        .join(", ");
    });
    checks.push({
      feature,
      name: `${name} as its syscall twin`,
      ok: u.length === count && JSON.stringify(u) === JSON.stringify(s),
      detail: `${u.length} and ${s.length} records of ${count}; differing: ${diff.filter(Boolean).join(" | ").slice(0, 600)}`,
    });
  }
  for (const role of ["CLIENT", "SERVER"]) {
    const shape = (pid: number) => {
      const r = out.records.find((x) => x.ProcPID === pid && x.SockProtocol === "TCP" && x.SockRole === role);
      return r ? JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => URING_SOCK_KEYS.test(k)))) : "none";
    };
    const u = shape(pidU);
    checks.push({
      feature,
      name: `TCP ${role.toLowerCase()} as its syscall twin`,
      ok: u !== "none" && u === shape(pidS),
      detail: `${u} | ${shape(pidS)}`,
    });
  }
  return checks;
}

/**
 * Runs of the agent's programs the kernel skipped (7.0+: a thread preempted inside a
 * tracepoint's program makes the kernel skip it for the others on that CPU) and that no
 * rescuer took: each such event is lost, and the agent says how many. A check of an
 * event the kernel never handed over is not the agent's failure, as long as the agent
 * reported at least as many skips as checks missed: those checks pass, saying so. A miss
 * with no reported skip still fails.
 */
export function accountedForSkips(out: ScenarioOutput, checks: readonly Check[]): Check[] {
  const unrescued = Number(/program runs skipped by the kernel (\d+)/.exec(out.agentStderr)?.[1] ?? 0);
  const failed = checks.filter((c) => !c.ok);
  if (unrescued === 0 || failed.length > unrescued) return [...checks];
  return checks.map((c) =>
    c.ok ? c : { ...c, ok: true, detail: `missed; the agent reported ${unrescued} runs skipped by the kernel: ${c.detail}` },
  );
}
