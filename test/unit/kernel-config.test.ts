import { expect, test } from "bun:test";
import { cgroup2Mount } from "../../src/kernel.ts";
import { kernelHz } from "../../src/kernel-config.ts";

test("CONFIG_HZ from a kernel config; 0 without one", () => {
  expect(kernelHz("# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\nCONFIG_SCHED_HRTICK=y\n")).toBe(250);
  expect(kernelHz("")).toBe(0);
});

test("the cgroup v2 mount, hybrid or unified", () => {
  const hybrid = "35 26 0:30 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n36 26 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  expect(cgroup2Mount(hybrid)).toBe("/sys/fs/cgroup/unified");
  expect(cgroup2Mount("30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n")).toBe("/sys/fs/cgroup");
  expect(cgroup2Mount("26 1 254:0 / / rw - ext4 /dev/vda rw\n")).toBeUndefined();
});
