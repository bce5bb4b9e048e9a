// Privileges and a host that lacks what the agent needs: not root, libbpf that cannot be
// loaded, no kernel BTF, no cgroup v2 hierarchy (each one clear line, or a degraded
// feature named in the banner); and least privilege: the agent run with exactly the
// capability bounding set of packaging/kflowd.service, and without each of its
// capabilities in turn, to show every one is needed and by which feature.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  fchmodSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { Cgroups, cgroup2, hex64 } from "../helpers/cgroups.ts";
import { AGENT, ROOT } from "../helpers/paths.ts";
import { peer } from "../helpers/peer.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { AgentProcess } from "./agent-process.ts";

setDefaultTimeout(60_000);
const skip = skipWithoutKernel("end-to-end privilege tests");
const dir = skip ? "" : mkdtempSync(`${tmpdir()}/kflowd-priv-`);
const NOBODY = 65534;

/** Capability numbers (linux/capability.h) of the ones the unit may name. */
const CAP_NUMBERS: Record<string, number> = {
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_NET_ADMIN: 12,
  CAP_IPC_LOCK: 14,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
};

/** The capabilities of the unit's CapabilityBoundingSet= line. */
function unitCapabilities(): string[] {
  const unit = readFileSync(`${ROOT}packaging/kflowd.service`, "utf8");
  const line = /^CapabilityBoundingSet=(.*)$/m.exec(unit);
  if (!line) throw new Error("packaging/kflowd.service has no CapabilityBoundingSet=");
  return line[1]!.trim().split(/\s+/);
}

/**
 * Runs the agent as root with only these capabilities, as systemd does for the unit:
 * bounding set, no inheritable or ambient ones, no new privileges.
 */
function withCapabilities(caps: readonly string[]): string[] {
  const keep = caps.map((c) => `+${c.replace(/^CAP_/, "").toLowerCase()}`);
  return ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", `--bounding-set=-all${keep.map((k) => `,${k}`).join("")}`, "--no-new-privs"];
}

/** A TCP port free on 127.0.0.1 (bound, then released). */
function freeTcpPort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/** One stderr line, and nothing else, from a refused start. */
function oneLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe.skipIf(skip)("start-up refusals and degraded hosts", () => {
  test("not root (as nobody): one line, exit 1", async () => {
    // a copy nobody can reach: the checkout may sit under a directory only root can enter
    const reachable = mkdtempSync(`${tmpdir()}/kflowd-nobody-`);
    chmodSync(reachable, 0o755);
    copyFileSync(AGENT, `${reachable}/kflowd`);
    chmodSync(`${reachable}/kflowd`, 0o755);
    try {
      const { code, stderr, stdout } = await AgentProcess.run(["-o", "json-min"], {
        agent: `${reachable}/kflowd`,
        prefix: ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"],
      });
      expect(code).toBe(1);
      expect(oneLine(stderr)).toBe("kflowd: must run as root (it loads eBPF programs): try 'sudo kflowd'");
      expect(stdout).toBe("");
    } finally {
      rmSync(reachable, { recursive: true, force: true });
    }
  });

  test("libbpf cannot be loaded (a broken libbpf.so.1 found first): one line naming the package, exit 1", async () => {
    const fake = mkdtempSync(`${dir}/fake-libbpf-`);
    writeFileSync(`${fake}/libbpf.so.1`, "not a shared object\n");
    const { code, stderr } = await AgentProcess.run(["-o", "json-min"], { env: { ...process.env, LD_LIBRARY_PATH: fake } });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toMatch(
      /^kflowd: cannot load libbpf\.so\.1 \(.+\); install libbpf 1\.0 or newer \(Debian\/Ubuntu: libbpf1, RHEL\/Fedora: libbpf\)$/,
    );
  });

  test("no kernel BTF (/sys/kernel/btf hidden in a mount namespace): one line, exit 1", async () => {
    const { code, stderr } = await AgentProcess.run(["-o", "json-min"], {
      prefix: ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs none /sys/kernel/btf && exec "$0" "$@"'],
    });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toBe(
      "kflowd: the kernel has no BTF type information (/sys/kernel/btf/vmlinux is missing); kflowd needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, 5.10 or newer",
    );
  });

  test("no cgroup v2 hierarchy (unmounted in a mount namespace): TCP/UDP named as not monitored, files still are", async () => {
    const agent = await AgentProcess.start(["-o", "json-min"], {
      prefix: [
        "unshare",
        "--mount",
        "sh",
        "-c",
        'for m in $(findmnt -n -t cgroup2 -o TARGET); do umount -l "$m" || exit 1; done; exec "$0" "$@"',
      ],
    });
    try {
      expect(agent.stderr).toMatch(
        /^ {2}hooks for socket: none \(degraded: no cgroup v2 hierarchy is mounted: TCP and UDP are not monitored \(UNIX sockets are\)\)$/m,
      );
      const path = `${dir}/without-cgroup2.txt`;
      writeFileSync(path, "x");
      await agent.waitFor(() => agent.fileRecords(path).length > 0, "the file record");
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});

describe.skipIf(skip)("least privilege: the unit's capability bounding set", () => {
  const unitCaps = skip ? [] : unitCapabilities();
  let tool = "";

  beforeAll(() => {
    // an executable only its owner (nobody) may read: hashing it needs CAP_DAC_READ_SEARCH
    tool = `${dir}/nobodys-tool`;
    writeFileSync(tool, "#!/bin/sh\necho only nobody reads this\n", { mode: 0o700 });
    chownSync(tool, NOBODY, NOBODY);
  });

  /** Touches the tool (a write and close as root): its record is printed with checksums (-c). */
  function touchTool(): void {
    const fd = openSync(tool, "r+");
    writeSync(fd, "#");
    fchmodSync(fd, 0o700);
    closeSync(fd);
  }

  function toolRecord(agent: AgentProcess): Promise<Record<string, unknown>> {
    return agent.waitFor(() => agent.fileRecords(tool).at(-1), "the tool's record");
  }

  test("the unit names only capabilities the agent needs, and no CAP_SYS_ADMIN", () => {
    expect(unitCaps.length).toBeGreaterThan(0);
    for (const c of unitCaps) expect(CAP_NUMBERS).toHaveProperty(c);
    expect(unitCaps).not.toContain("CAP_SYS_ADMIN");
  });

  test("with exactly the unit's capabilities: file records, socket records and checksums", async () => {
    const agent = await AgentProcess.start(["-o", "json-min", "-c"], { prefix: withCapabilities(unitCaps) });
    try {
      // the agent runs with these and no others
      expect(agent.effectiveCaps()).toEqual(unitCaps.map((c) => CAP_NUMBERS[c]!).sort((a, b) => a - b));
      const path = `${dir}/least-privilege.txt`;
      writeFileSync(path, "x");
      await agent.waitFor(() => agent.fileRecords(path).length > 0, "the file record");
      const port = freeTcpPort();
      const server = await peer("tcp-server", "127.0.0.1", String(port), "900");
      const client = await peer("tcp-client", "127.0.0.1", String(port), "100");
      expect(await client.exited).toBe(0);
      expect(await server.exited).toBe(0);
      const sock = await agent.waitFor(
        () => agent.records.find((r) => r.ProcPID === client.pid && r.SockProtocol === "TCP"),
        "the client's socket record",
      );
      expect(sock).toMatchObject({ SockRemotePort: port, SockTxBytes: 100, SockRxBytes: 900, SockState: "TCP_CLOSE" });
      touchTool();
      const rec = await toolRecord(agent);
      const body = readFileSync(tool);
      expect(rec).toMatchObject({
        FileUID: NOBODY,
        FilePermissions: "0700/-rwx------",
        FileMD5: new Bun.CryptoHasher("md5").update(body).digest("hex"),
        FileSHA256: new Bun.CryptoHasher("sha256").update(body).digest("hex"),
      });
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  for (const [cap, why] of [
    ["CAP_BPF", "every BPF object (maps, programs, BTF)"],
    ["CAP_PERFMON", "the tracing programs (tp_btf) and reading kernel memory"],
  ] as const) {
    test(`without ${cap} the agent cannot load: ${why}`, async () => {
      expect(unitCaps).toContain(cap);
      const { code, stderr } = await AgentProcess.run(["-o", "json-min", "-m", "file"], {
        prefix: withCapabilities(unitCaps.filter((c) => c !== cap)),
      });
      expect(code).toBe(1);
      expect(oneLine(stderr)).toBe(
        `kflowd: missing capability ${cap}: loading the BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)`,
      );
    });
  }

  test("without CAP_NET_ADMIN the socket programs (cgroup, sockops) cannot load; -m file runs", async () => {
    expect(unitCaps).toContain("CAP_NET_ADMIN");
    const caps = unitCaps.filter((c) => c !== "CAP_NET_ADMIN");
    const refused = await AgentProcess.run(["-o", "json-min"], { prefix: withCapabilities(caps) });
    expect(refused.code).toBe(1);
    expect(oneLine(refused.stderr)).toBe("kflowd: missing capability CAP_NET_ADMIN: socket monitoring needs it (or use -m file)");
    const agent = await AgentProcess.start(["-o", "json-min", "-m", "file"], { prefix: withCapabilities(caps) });
    try {
      const path = `${dir}/files-without-net-admin.txt`;
      writeFileSync(path, "x");
      await agent.waitFor(() => agent.fileRecords(path).length > 0, "the file record");
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  test("without CAP_DAC_READ_SEARCH files only their owner may read get no checksums (counted); cgroups are still named", async () => {
    expect(unitCaps).toContain("CAP_DAC_READ_SEARCH");
    const agent = await AgentProcess.start(["-o", "json-min", "-m", "file", "-c"], {
      prefix: withCapabilities(unitCaps.filter((c) => c !== "CAP_DAC_READ_SEARCH")),
    });
    const cgroups = new Cgroups(cgroup2()!);
    try {
      touchTool();
      expect(await toolRecord(agent)).toMatchObject({ FileUID: NOBODY, FileMD5: "", FileSHA256: "", ProcCgroup: "/" });
      // no file handles without the capability: a process gone by the time its record is
      // printed has its cgroup named by a walk of the hierarchy
      const id = hex64();
      const cg = cgroups.make(`/system.slice/docker-${id}.scope`);
      const path = `${dir}/in-a-container.txt`;
      const sh = Bun.spawnSync(["sh", "-c", `echo $$ > "${cg}/cgroup.procs" && echo x > "${path}"`]);
      expect(sh.exitCode).toBe(0);
      const rec = await agent.waitFor(() => agent.fileRecords(path).at(-1), "the record of the process in the container");
      expect(rec).toMatchObject({ ProcPID: sh.pid, ProcCgroup: `/system.slice/docker-${id}.scope`, ProcContainerId: id });
    } finally {
      expect(await agent.stop()).toBe(0);
      await cgroups.cleanup();
    }
    expect(agent.summary().lost["checksums not computed"]).toBeGreaterThan(0);
    expect(agent.summary().lost["cgroups unresolved"]).toBe(0);
  });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
