// Which program groups the loader asks for, from the configuration and the probed kernel.
import { expect, test } from "bun:test";
import { type KernelProbe, SYSCALL_HOOKS, wantedHooks } from "../../src/kernel.ts";

const both = { file: true, socket: true };
const tiers = (monitor: { file: boolean; socket: boolean }, probe: KernelProbe) =>
  wantedHooks(monitor, probe).map((h) => `${h.feature}:${h.tier}`);

test("the syscall programs always; the best inode source the kernel has; cgroup hooks only with cgroup v2", () => {
  const all = tiers(both, { ctime: true, kprobes: true, cgroup2: "/sys/fs/cgroup", tracingCookie: true });
  expect(all).toContain("file-inode:ctime-tracepoints");
  expect(all).not.toContain("file-inode:kprobes");
  expect(all).toContain("socket:cgroup-hooks");
  expect(all).toContain("socket-existing:task-file-iterator");
  expect(tiers(both, { ctime: false, kprobes: true, cgroup2: "/x", tracingCookie: true })).toContain("file-inode:kprobes");
  const bare = tiers(both, { ctime: false, kprobes: false, tracingCookie: false });
  expect(bare.filter((t) => t.startsWith("file-inode"))).toEqual([]);
  expect(bare.filter((t) => t.startsWith("socket:cgroup") || t.startsWith("socket-existing"))).toEqual([]);
});

test("TCP state: one tracepoint program where tracing programs make cookies, else the close-only one and sockops", () => {
  const programs = (probe: KernelProbe) => wantedHooks(both, probe).flatMap((h) => h.programs);
  const now = programs({ ctime: true, kprobes: false, cgroup2: "/x", tracingCookie: true });
  expect(now).toContain("inet_sock_set_state__tcp");
  expect(now).not.toContain("sockops__tcp");
  expect(now).not.toContain("inet_sock_set_state__export");
  const old = programs({ ctime: false, kprobes: true, cgroup2: "/x", tracingCookie: false });
  expect(old).not.toContain("inet_sock_set_state__tcp");
  expect(old).toContain("sockops__tcp");
  expect(old).toContain("inet_sock_set_state__export");
});

test("-m chooses the features; the syscall programs serve both", () => {
  const probe = { ctime: true, kprobes: false, cgroup2: "/x", tracingCookie: true };
  expect(wantedHooks({ file: false, socket: true }, probe)[0]).toBe(SYSCALL_HOOKS);
  expect(tiers({ file: false, socket: true }, probe).filter((t) => t.startsWith("file"))).toEqual(["file:syscall-tracepoints"]);
  expect(tiers({ file: true, socket: false }, probe).filter((t) => t.startsWith("socket"))).toEqual([]);
});
