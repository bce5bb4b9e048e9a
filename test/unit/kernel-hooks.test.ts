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

test("io_uring: the tracepoint layouts of Debian's kernels pick their programs; older ones none", async () => {
  const { uringLayout } = await import("../../src/kernel.ts");
  const P = "pointer" as const;
  const O = "other" as const;
  // arguments as the BTF of 5.10, 6.1, 6.12 and 6.18/7.x declare them (without __data)
  const k510 = new Map([
    ["io_uring_submit_sqe", [P, O, O, O, O]],
    ["io_uring_complete", [P, O, O]],
  ]);
  const k61 = new Map([
    ["io_uring_submit_sqe", [P, O]],
    ["io_uring_complete", [P, P, O, O, O, O, O]],
  ]);
  const k612 = new Map([
    ["io_uring_submit_req", [P]],
    ["io_uring_complete", [P, P, O, O, O, O, O]],
  ]);
  const k618 = new Map([
    ["io_uring_submit_req", [P]],
    ["io_uring_complete", [P, P, P]],
  ]);
  expect([k510, k61, k612, k618].map((k) => uringLayout(k))).toEqual([undefined, "sqe-res", "req-res", "req-cqe"]);
  const wanted = (layout: "req-cqe" | "req-res" | "sqe-res" | undefined) =>
    wantedHooks(both, { ctime: true, kprobes: false, tracingCookie: true, uring: layout })
      .filter((h) => h.feature === "io_uring")
      .flatMap((h) => h.programs);
  expect(wanted("req-cqe")).toEqual(["io_uring_submit_req__uring", "io_uring_complete__cqe"]);
  expect(wanted("sqe-res")).toEqual(["io_uring_submit_sqe__uring", "io_uring_complete__res"]);
  expect(wanted(undefined)).toEqual([]);
});
