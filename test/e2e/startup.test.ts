// Starting on a kernel that refuses some programs, and checking what is attached: an
// optional program the verifier rejects is turned off and named in the banner with the
// verifier's reason while the rest works; the start-up self-test runs the canary, says
// what the kernel side saw, keeps the canary's records out of the output, and with
// --self-test fatal turns a failed check into exit 1.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { RunningAgent } from "../helpers/agent.ts";
import { AGENT } from "../helpers/paths.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end start-up tests");
const dir = skip ? "" : mkdtempSync(`${tmpdir()}/kflowd-startup-`);

/** The banner line of a feature's hooks. */
function hooksLine(stderr: string, feature: string): string {
  return stderr.split("\n").find((l) => l.startsWith(`  hooks for ${feature}: `)) ?? "";
}

describe.skipIf(skip)("start-up", () => {
  const agents: RunningAgent[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop().catch(() => {});
  });

  test("optional programs the verifier rejects are turned off and named; file records still flow", async () => {
    // the verifier is made to reject them (KFLOWD_TEST_BREAK, see BpfObject.spoil)
    const broken = ["iter_task_file__existing", "sched_process_exec__open_exec", "cgroup_skb__egress"];
    const agent = await RunningAgent.start(["-o", "json-min"], { KFLOWD_TEST_BREAK: broken.join(",") });
    agents.push(agent);
    await agent.waitFor(() => agent.stderr.includes("  output:"), "the whole banner");
    const file = hooksLine(agent.stderr, "file");
    expect(file).toStartWith(
      "  hooks for file: syscall-tracepoints (sys_enter__file, sys_exit__file_event, sched_process_exit__flush; degraded: ",
    );
    expect(file).toContain("sched_process_exec__open_exec failed (");
    expect(file).toContain("OPEN_EXEC of the programs and scripts run is not reported");
    // a verifier verdict, not libbpf's generic follow-up
    const socket = hooksLine(agent.stderr, "socket");
    expect(socket).toMatch(
      /cgroup_skb__egress, cgroup_skb__ingress failed \(invalid bpf_context access off=\d+ size=\d+\): TCP and UDP are not monitored/,
    );
    expect(socket).not.toContain("(cgroup_skb__egress");
    expect(hooksLine(agent.stderr, "socket-existing")).toStartWith(
      "  hooks for socket-existing: first-read-or-write (degraded: iter_task_file__existing failed (",
    );
    expect(agent.stderr).toContain("  self-test: ");

    const path = `${dir}/still-flowing.txt`;
    writeFileSync(path, "data\n");
    const [rec] = await agent.waitForFile(path);
    expect(rec).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 }, FileSize: 5 });
    expect(await agent.stop()).toBe(0);
    expect(agent.stderr).toMatch(/^kflowd: stopped after .*; degraded: file, socket, socket-existing$/m);
  });

  test("an essential program that fails stops the start with one line", async () => {
    const proc = Bun.spawn([AGENT, "-o", "json-min"], {
      env: { ...process.env, KFLOWD_TEST_BREAK: "sys_exit__file_event" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(1);
    const err = await new Response(proc.stderr).text();
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(/^kflowd: loading the BPF programs failed: prog 'sys_exit__file_event': /);
  });

  test("the self-test passes on this kernel, and its canary's records are not printed", async () => {
    const agent = await RunningAgent.start(["-o", "json-min"]);
    agents.push(agent);
    await agent.waitFor(() => agent.stderr.includes("  output:"), "the whole banner");
    const line = agent.stderr.split("\n").find((l) => l.startsWith("  self-test: "))!;
    const m = /^ {2}self-test: (\d+)\/(\d+) passed in \d+ ms$/.exec(line);
    expect(m, line).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    // ten checks of files and sockets, and the io_uring write (this kernel's requests are read)
    expect(Number(m![2])).toBe(11);
    // records of other processes flow; none is the canary's (its directory, its exe as a file)
    const path = `${dir}/after-self-test.txt`;
    writeFileSync(path, "x");
    await agent.waitForFile(path);
    expect(await agent.stop()).toBe(0);
    expect(agent.records.filter((r) => String(r.FilePath).includes("kflowd-selftest-"))).toEqual([]);
    expect(agent.stderr).toContain("; degraded: none\n");
  });

  test("--self-test fatal: a failed check ends the start with exit 1 and one line naming it", async () => {
    // without the state tracepoint a TCP record is not printed at close, so the TCP check fails
    // (both its programs: the one that also counts handshakes, and its close-only fallback)
    const proc = Bun.spawn([AGENT, "-o", "json-min", "--self-test", "fatal"], {
      env: { ...process.env, KFLOWD_TEST_BREAK: "inet_sock_set_state__tcp,inet_sock_set_state__export" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(1);
    const err = await new Response(proc.stderr).text();
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(
      /^kflowd: self-test: 10\/11 passed in \d+ ms; failed: TCP connection \(socket: no TCP client record\) \(--self-test fatal\)$/m,
    );
  });

  test("--self-test off: no canary, no self-test line", async () => {
    const agent = await RunningAgent.start(["-o", "json-min", "--self-test", "off"]);
    agents.push(agent);
    await agent.waitFor(() => agent.stderr.includes("  output:"), "the whole banner");
    expect(agent.stderr).not.toContain("self-test");
    expect(await agent.stop()).toBe(0);
  });
});
