// The context analysts ask for first, from real parts. Cgroups: real cgroup v2 groups named
// as container runtimes name them (docker, containerd and CRI-O under kubepods, podman,
// kubepods with the cgroupfs driver), real processes moved into them (their PID written to
// cgroup.procs) that write a file, connect over TCP, send over UDP and accept a
// connection; ProcCgroup and ProcContainerId are checked on each record. DNS names:
// dnsmasq answers dig and curl (A, AAAA, a CNAME chain, a TTL that expires, over UDP and
// TCP) and the connections that follow carry SockRemoteName; a name resolved before the
// agent started does not.
import { type Ran, run } from "../helpers/run.ts";
import { dnsmasqCommand } from "../helpers/dnsmasq.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { cgroup2MountInfo } from "../../src/kernel.ts";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { Cgroups, hex64 } from "../helpers/cgroups.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

setDefaultTimeout(60_000);
const skip = skipWithoutKernel("end-to-end cgroup and DNS name tests");

/** loopback addresses of this run (all of 127/8 is local): no clash with other tests' */
const HI = (process.pid >> 8) & 0xff;
const LO = process.pid & 0xff || 1;
const at = (second: number): string => `127.${second}.${HI}.${LO}`;
const DNS_ADDR = at(54);
const ZONE = `ctx${process.pid}.test`;
const WWW = at(88);
const SHORT = at(89);
const TARGET = at(90);
const EARLY = at(91);
const UDP_PEER = at(92);
const TCP_ANSWER = at(93);
const PORT = 25000 + (process.pid % 1000);
const DIR = `${tmpdir()}/kflowd-context-${process.pid}`;
const RESOLV = `${DIR}/resolv.conf`;

/** dnsmasq answering only for ZONE: TTL 300, short.ZONE with 1 s */
const DNSMASQ = dnsmasqCommand(DNS_ADDR, [
  `--local=/${ZONE}/`,
  `--host-record=www.${ZONE},${WWW}`,
  `--host-record=www6.${ZONE},::1`,
  `--host-record=short.${ZONE},${SHORT},1`,
  `--host-record=target.${ZONE},${TARGET}`,
  `--cname=alias.${ZONE},mid.${ZONE}`,
  `--cname=mid.${ZONE},target.${ZONE},60`,
  `--host-record=early.${ZONE},${EARLY}`,
  `--host-record=udp.${ZONE},${UDP_PEER}`,
  `--host-record=tcp.${ZONE},${TCP_ANSWER}`,
]);

/** curl, its names looked up through dnsmasq: /etc/resolv.conf replaced in a mount namespace of its own */
function curlVia(...args: string[]): Promise<Ran> {
  return run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec curl -s -o /dev/null "$@"', RESOLV, ...args]);
}

const podUid = (): string => crypto.randomUUID();

/** Runs a shell script in the cgroup at dir: the shell moves itself there first; $0.. are args. */
function inCgroup(dir: string, script: string, ...args: string[]): Promise<Ran> {
  return run(["sh", "-c", `echo $$ > "${dir}/cgroup.procs" && ${script}`, ...args]);
}

describe.skipIf(skip)("cgroups, containers and DNS names on records", () => {
  const hierarchy = skip ? undefined : cgroup2MountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
  const cgroups = new Cgroups(hierarchy?.mount ?? "/nonexistent");
  let agent: RunningAgent;
  let dnsmasq: Bun.Subprocess | undefined;
  let server: ReturnType<typeof Bun.serve> | undefined;

  beforeAll(async () => {
    expect(hierarchy, "a cgroup v2 hierarchy is mounted").toBeDefined();
    expect(hierarchy!.root).toBe("/");
    mkdirSync(DIR, { recursive: true });
    writeFileSync(RESOLV, `nameserver ${DNS_ADDR}\n`);
    dnsmasq = Bun.spawn(DNSMASQ, { stdin: "ignore", stdout: "ignore", stderr: "inherit" });
    let answer = "";
    for (let i = 0; i < 50 && answer !== WWW; i++) {
      if (i > 0) await Bun.sleep(100);
      answer = (await run(["dig", `@${DNS_ADDR}`, "+short", "+tries=1", "+time=1", `www.${ZONE}`])).stdout.trim();
    }
    expect(answer, `dnsmasq on ${DNS_ADDR}:53 does not answer`).toBe(WWW);
    // resolved before the agent runs: this answer is never seen
    expect((await run(["dig", `@${DNS_ADDR}`, "+short", `early.${ZONE}`])).stdout.trim()).toBe(EARLY);
    // HTTP on every local address, IPv4 and IPv6
    server = Bun.serve({ hostname: "::", port: PORT, fetch: () => new Response("ok") });
    agent = await RunningAgent.start(["-o", "json-min"]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
    dnsmasq?.kill();
    await dnsmasq?.exited;
    server?.stop(true);
    await cgroups.cleanup();
    rmSync(DIR, { recursive: true, force: true });
  });

  const sockOf = (pid: number, proto: "TCP" | "UDP", more: (r: Json) => boolean = () => true): Promise<Json> =>
    agent.waitFor(
      () => agent.records.find((r) => r.ProcPID === pid && r.SockProtocol === proto && more(r)),
      `the ${proto} record of ${pid}`,
    );
  const fileOf = (pid: number, path: string): Promise<Json> =>
    agent.waitFor(() => agent.records.find((r) => r.ProcPID === pid && `${r.FilePath}${r.File}` === path), `the record of ${path}`);
  const cgroupKeys = (r: Json) => ({ ProcCgroup: r.ProcCgroup, ProcContainerId: r.ProcContainerId });

  describe("ProcCgroup and ProcContainerId", () => {
    const id = hex64();
    const RUNTIMES: readonly [string, string, string | undefined][] = [
      ["docker (systemd driver)", `/system.slice/docker-${id}.scope`, id],
      ...(() => {
        const [a, b, c, d] = [hex64(), hex64(), hex64(), hex64()];
        const uid = podUid();
        const slice = uid.replace(/-/g, "_");
        return [
          [
            "containerd under kubepods",
            `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${slice}.slice/cri-containerd-${a}.scope`,
            a,
          ],
          ["CRI-O under kubepods", `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${slice}.slice/crio-${b}.scope`, b],
          ["podman (libpod)", `/machine.slice/libpod-${c}.scope`, c],
          ["kubepods, cgroupfs driver", `/kubepods/besteffort/pod${uid}/${d}`, d],
          ["no container", `/kflowd-test-${process.pid}.slice/app.scope`, undefined],
        ] as [string, string, string | undefined][];
      })(),
    ];

    for (const [runtime, path, container] of RUNTIMES) {
      test(`${runtime}: a file written, a TCP connection and a UDP datagram of a process in ${path.slice(0, 40)}...`, async () => {
        const dir = cgroups.make(path);
        const file = `${DIR}/${container ?? "plain"}.txt`;
        const tcp = await inCgroup(dir, `echo data > "$0" && exec curl -s -o /dev/null "$1"`, file, `http://127.0.0.1:${PORT}/`);
        expect(tcp.code).toBe(0);
        const udp = await inCgroup(
          dir,
          `exec python3 -c "$0"`,
          `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", ${PORT}))`,
        );
        expect(udp.code).toBe(0);
        const want = { ProcCgroup: path, ProcContainerId: container };
        expect(cgroupKeys(await fileOf(tcp.pid, file))).toEqual(want);
        expect(cgroupKeys(await sockOf(tcp.pid, "TCP", (r) => r.SockRemotePort === PORT))).toEqual(want);
        expect(cgroupKeys(await sockOf(udp.pid, "UDP", (r) => r.SockRemotePort === PORT))).toEqual(want);
      });
    }

    test("a server's accepted connection is the accepting process's, not the listening socket's cgroup", async () => {
      const [listenId, acceptId, clientId] = [hex64(), hex64(), hex64()];
      const listenDir = cgroups.make(`/machine.slice/libpod-${listenId}.scope`);
      const acceptDir = cgroups.make(`/system.slice/docker-${acceptId}.scope`);
      const clientDir = cgroups.make(`/kubepods.slice/kubepods-pod${podUid().replace(/-/g, "_")}.slice/crio-${clientId}.scope`);
      const port = PORT + 1;
      // listens in one container's cgroup, then moves itself to another before it accepts
      const py = [
        "import os, socket, sys",
        "s = socket.socket()",
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        `s.bind(("127.0.0.1", ${port}))`,
        "s.listen(1)",
        `open("${acceptDir}/cgroup.procs", "w").write(str(os.getpid()))`,
        "print('ready', flush=True)",
        "c, _ = s.accept()",
        "c.recv(1000)",
        "c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\n')",
        "c.close()",
      ].join("\n");
      const srv = Bun.spawn(["sh", "-c", `echo $$ > "${listenDir}/cgroup.procs" && exec python3 -c "$0"`, py], {
        stdout: "pipe",
        stderr: "inherit",
      });
      const reader = srv.stdout.getReader();
      let said = "";
      while (!said.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        said += new TextDecoder().decode(value);
      }
      expect(said).toBe("ready\n");
      reader.releaseLock();
      const client = await inCgroup(clientDir, `exec curl -s -o /dev/null "$0"`, `http://127.0.0.1:${port}/`);
      expect(client.code).toBe(0);
      expect(await srv.exited).toBe(0);
      const c = await sockOf(client.pid, "TCP", (r) => r.SockRemotePort === port);
      const s = await sockOf(srv.pid, "TCP", (r) => r.SockLocalPort === port && r.SockRemotePort === c.SockLocalPort);
      expect(s.SockRole).toBe("SERVER");
      expect(cgroupKeys(s)).toEqual({ ProcCgroup: `/system.slice/docker-${acceptId}.scope`, ProcContainerId: acceptId });
      expect(cgroupKeys(c)).toEqual({ ProcCgroup: clientDir.slice(cgroups.mount.length), ProcContainerId: clientId });
    });

    test("a process in the root cgroup: ProcCgroup /, no container", async () => {
      const r = await run(["curl", "-s", "-o", "/dev/null", `http://127.0.0.1:${PORT}/`]);
      expect(cgroupKeys(await sockOf(r.pid, "TCP", (x) => x.SockRemotePort === PORT))).toEqual({
        ProcCgroup: "/",
        ProcContainerId: undefined,
      });
    });
  });

  describe("SockRemoteName", () => {
    test("A: dig resolves, a later connection to the address carries the name; the keys come last", async () => {
      expect((await run(["dig", `@${DNS_ADDR}`, "+short", `www.${ZONE}`])).stdout.trim()).toBe(WWW);
      const c = await run(["curl", "-s", "-o", "/dev/null", `http://${WWW}:${PORT}/`]);
      const r = await sockOf(c.pid, "TCP", (x) => x.SockRemoteIP === WWW);
      expect(r.SockRemoteName).toBe(`www.${ZONE}`);
      expect(Object.keys(r).slice(-2)).toEqual(["ProcCgroup", "SockRemoteName"]);
    });

    test("A: curl looks the name up itself and connects", async () => {
      const c = await curlVia(`http://www.${ZONE}:${PORT}/`);
      expect(c.code).toBe(0);
      const r = await sockOf(c.pid, "TCP", (x) => x.SockRemotePort === PORT);
      expect([r.SockRemoteIP, r.SockRemoteName]).toEqual([WWW, `www.${ZONE}`]);
    });

    test("AAAA: curl -6 to an IPv6 address", async () => {
      const c = await curlVia("-6", `http://www6.${ZONE}:${PORT}/`);
      expect(c.code).toBe(0);
      const r = await sockOf(c.pid, "TCP", (x) => x.SockRemotePort === PORT);
      expect([r.SockFamily, r.SockRemoteIP, r.SockRemoteName]).toEqual(["AF_INET6", "::1", `www6.${ZONE}`]);
    });

    test("a CNAME chain: the name asked for, not the one holding the address", async () => {
      const c = await curlVia(`http://alias.${ZONE}:${PORT}/`);
      expect(c.code).toBe(0);
      const r = await sockOf(c.pid, "TCP", (x) => x.SockRemotePort === PORT);
      expect([r.SockRemoteIP, r.SockRemoteName]).toEqual([TARGET, `alias.${ZONE}`]);
    });

    test("a short TTL: named right after the lookup, no longer once the TTL (1 s) has passed", async () => {
      const first = await curlVia(`http://short.${ZONE}:${PORT}/`);
      expect(first.code).toBe(0);
      const named = await sockOf(first.pid, "TCP", (x) => x.SockRemotePort === PORT);
      expect([named.SockRemoteIP, named.SockRemoteName]).toEqual([SHORT, `short.${ZONE}`]);
      // TTL 1 s (and at least a second for any answer): expired 2.5 s later
      await Bun.sleep(2500);
      const later = await run(["curl", "-s", "-o", "/dev/null", `http://${SHORT}:${PORT}/`]);
      const r = await sockOf(later.pid, "TCP", (x) => x.SockRemotePort === PORT);
      expect(r.SockRemoteIP).toBe(SHORT);
      expect(r).not.toHaveProperty("SockRemoteName");
    });

    test("UDP: a datagram to a resolved address", async () => {
      expect((await run(["dig", `@${DNS_ADDR}`, "+short", `udp.${ZONE}`])).stdout.trim()).toBe(UDP_PEER);
      const p = await run([
        "python3",
        "-c",
        `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("${UDP_PEER}", 9))`,
      ]);
      const r = await sockOf(p.pid, "UDP", (x) => x.SockRemoteIP === UDP_PEER);
      expect(r.SockRemoteName).toBe(`udp.${ZONE}`);
    });

    test("an answer that came over TCP", async () => {
      expect((await run(["dig", "+tcp", `@${DNS_ADDR}`, "+short", `tcp.${ZONE}`])).stdout.trim()).toBe(TCP_ANSWER);
      const c = await run(["curl", "-s", "-o", "/dev/null", `http://${TCP_ANSWER}:${PORT}/`]);
      const r = await sockOf(c.pid, "TCP", (x) => x.SockRemoteIP === TCP_ANSWER);
      expect(r.SockRemoteName).toBe(`tcp.${ZONE}`);
    });

    test("a name resolved before the agent started stays unknown", async () => {
      const c = await run(["curl", "-s", "-o", "/dev/null", `http://${EARLY}:${PORT}/`]);
      const r = await sockOf(c.pid, "TCP", (x) => x.SockRemoteIP === EARLY);
      expect(r).not.toHaveProperty("SockRemoteName");
    });

    test("at stop: no record's cgroup was left unnamed", async () => {
      const code = await agent.stop();
      expect(code).toBe(0);
      const lost = /lost: ([^;]*);/.exec(agent.stderr)?.[1] ?? "";
      expect(lost).toContain("cgroups unresolved 0");
      agent = undefined as unknown as RunningAgent;
    });
  });
});
