// ProcCgroup and ProcContainerId: container ids from the paths runtimes make, and cgroup
// ids named by file handle, through the record's process, or by walking the hierarchy
// (here a directory tree standing in for it), with what cannot be named counted.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { CgroupNames, containerIdOf } from "../../src/enrich/cgroups.ts";
import { cgroup2MountInfo } from "../../src/kernel.ts";

const ID = "4f1c9e2ab7d3086e5f2a1b9c7d6e3f40a8b2c5d9e1f7a3b6c0d4e8f2a5b9c3d7";
const POD = "pod2d4e6f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f";

describe("containerIdOf: the paths runtimes make", () => {
  test.each([
    ["docker, systemd driver", `/system.slice/docker-${ID}.scope`],
    ["docker, cgroupfs driver", `/docker/${ID}`],
    [
      "containerd under kubepods, systemd driver",
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-${POD.replace(/-/g, "_")}.slice/cri-containerd-${ID}.scope`,
    ],
    [
      "CRI-O under kubepods",
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD.replace(/-/g, "_")}.slice/crio-${ID}.scope`,
    ],
    ["kubepods, cgroupfs driver", `/kubepods/besteffort/${POD}/${ID}`],
    ["guaranteed pod, cgroupfs driver", `/kubepods/${POD}/${ID}`],
    ["podman, root", `/machine.slice/libpod-${ID}.scope`],
    ["podman, rootless", `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`],
    ["podman, cgroupfs", `/libpod_parent/libpod-${ID}`],
    ["containerd namespace, cgroupfs", `/default/${ID}`],
    ["a process in a cgroup inside the container's", `/system.slice/docker-${ID}.scope/init.scope`],
  ])("%s", (_, path) => expect(containerIdOf(path)).toBe(ID));

  test("the innermost container of nested ones", () => {
    const inner = "a".repeat(64);
    expect(containerIdOf(`/system.slice/docker-${ID}.scope/docker/${inner}`)).toBe(inner);
  });

  test.each([
    ["the root", "/"],
    ["a session", "/user.slice/user-1000.slice/session-3.scope"],
    ["a service", "/system.slice/containerd.service"],
    ["CRI-O's monitor", `/system.slice/crio-conmon-${ID}.scope`],
    ["podman's monitor", `/machine.slice/libpod-conmon-${ID}.scope`],
    ["63 hex digits", `/docker/${ID.slice(1)}`],
    ["65 hex digits", `/docker/${ID}0`],
    ["capital hex", `/docker/${ID.toUpperCase()}`],
    ["a slice named with hex", `/x-${ID}.slice`],
  ])("no container: %s", (_, path) => expect(containerIdOf(path)).toBeUndefined());
});

/** A directory tree standing in for a cgroup v2 hierarchy (ids are its inode numbers). */
const mount = mkdtempSync(`${tmpdir()}/kflowd-cgroups-`);
const dirs = ["system.slice", `system.slice/docker-${ID}.scope`, "user.slice", "user.slice/user-0.slice"];
for (const d of dirs) mkdirSync(`${mount}/${d}`, { recursive: true });
const ino = (rel: string): number => statSync(`${mount}/${rel}`).ino;
afterAll(() => rmSync(mount, { recursive: true, force: true }));

describe("CgroupNames", () => {
  test("by walking: every directory is named, the root as /; a container's gets its id", () => {
    const names = new CgroupNames({ mount, root: "/" });
    expect(names.cgroup(ino(`system.slice/docker-${ID}.scope`), 0)).toEqual({ path: `/system.slice/docker-${ID}.scope`, containerId: ID });
    expect(names.cgroup(statSync(mount).ino, 0)).toEqual({ path: "/", containerId: undefined });
    expect(names.cgroup(ino("user.slice/user-0.slice"), 0)).toEqual({ path: "/user.slice/user-0.slice", containerId: undefined });
    expect(names.size).toBe(dirs.length + 1);
    expect(names.unresolved).toBe(0);
  });

  test("a cgroup made after the last walk is found by another at once (its id is newer than any walked)", () => {
    const now = 0;
    const names = new CgroupNames({ mount, root: "/" }, () => now);
    names.cgroup(ino("user.slice"), 0);
    // kernfs numbers new directories upwards; this stand-in file system may not: made until one is
    const newest = Math.max(statSync(mount).ino, ...dirs.map(ino));
    let n = 0;
    do mkdirSync(`${mount}/user.slice/new${++n}.scope`);
    while (ino(`user.slice/new${n}.scope`) <= newest && n < 100);
    expect(names.cgroup(ino(`user.slice/new${n}.scope`), 0)?.path).toBe(`/user.slice/new${n}.scope`);
    expect(names.unresolved).toBe(0);
  });

  test("an id the last walk did not find waits for the next one after a pause", () => {
    let now = 0;
    const names = new CgroupNames({ mount, root: "/" }, () => now);
    names.cgroup(ino("user.slice"), 0);
    // no directory has this id (older than the newest walked): gone, or never was
    expect(names.cgroup(3, 0)).toBeUndefined();
    expect(names.unresolved).toBe(1);
    now += 60_000;
    expect(names.cgroup(3, 0)).toBeUndefined();
    expect(names.unresolved).toBe(2);
  });

  test("by file handle: exact, with the mount point and ' (deleted)' taken off; the root of a cgroup namespace kept", () => {
    const asked: number[] = [];
    const names = new CgroupNames({
      mount: "/sys/fs/cgroup",
      root: "/",
      byHandle: (id) => (asked.push(id), id === 1 ? "/sys/fs/cgroup" : id === 2 ? `/sys/fs/cgroup/kubepods/${POD}/${ID} (deleted)` : -116),
    });
    expect(names.cgroup(1, 0)?.path).toBe("/");
    expect(names.cgroup(2, 0)).toEqual({ path: `/kubepods/${POD}/${ID}`, containerId: ID });
    expect(names.cgroup(2, 0)?.path).toBe(`/kubepods/${POD}/${ID}`);
    expect(asked).toEqual([1, 2]);
    const inNs = new CgroupNames({ mount: "/sys/fs/cgroup", root: "/kubepods/x", byHandle: () => "/sys/fs/cgroup/y" });
    expect(inNs.cgroup(5, 0)?.path).toBe("/kubepods/x/y");
  });

  test("a cgroup that is gone (ESTALE) is counted, and not asked for again at once", () => {
    let now = 0;
    let asked = 0;
    const names = new CgroupNames({ mount: "/nonexistent", root: "/", byHandle: () => (asked++, -116) }, () => now);
    expect(names.cgroup(9, 0)).toBeUndefined();
    expect(names.cgroup(9, 0)).toBeUndefined();
    expect([names.unresolved, asked]).toEqual([2, 1]);
    now += 5000;
    expect(names.cgroup(9, 0)).toBeUndefined();
    expect([names.unresolved, asked]).toEqual([3, 2]);
  });

  test("without the capability (EPERM) the handle is not tried again; the walk names it", () => {
    let asked = 0;
    const names = new CgroupNames({ mount, root: "/", byHandle: () => (asked++, -1) });
    expect(names.cgroup(ino("system.slice"), 0)?.path).toBe("/system.slice");
    expect(names.cgroup(ino("user.slice"), 0)?.path).toBe("/user.slice");
    expect(asked).toBe(1);
  });

  test("no cgroup v2 hierarchy: nothing is named, every record counted", () => {
    const names = new CgroupNames(undefined);
    expect(names.cgroup(1, 0)).toBeUndefined();
    expect(names.unresolved).toBe(1);
  });

  const hierarchy = existsSync("/proc/self/mountinfo") ? cgroup2MountInfo(readFileSync("/proc/self/mountinfo", "utf8")) : undefined;
  test.skipIf(!hierarchy)("through the record's process: its /proc/PID/cgroup line, if that directory has the id", () => {
    const h = hierarchy!;
    const own = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((l) => l.startsWith("0::"))!
      .slice(3);
    const id = statSync(own === "/" ? h.mount : `${h.mount}${own}`).ino;
    const names = new CgroupNames(h);
    expect(names.cgroup(id, process.pid)?.path).toBe(own);
    // named alone, not by a walk of the whole hierarchy
    expect(names.size).toBe(1);
  });
});

describe("cgroup2MountInfo", () => {
  test("mount point and root, octal escapes undone", () => {
    expect(cgroup2MountInfo("40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")).toEqual({
      mount: "/sys/fs/cgroup/unified",
      root: "/",
    });
    expect(cgroup2MountInfo("40 30 0:37 /kube\\040pods /mnt/cg\\040v2 rw - cgroup2 cgroup2 rw\n")).toEqual({
      mount: "/mnt/cg v2",
      root: "/kube pods",
    });
    expect(cgroup2MountInfo("26 1 254:0 / / rw - ext4 /dev/vda rw\n")).toBeUndefined();
  });
});
