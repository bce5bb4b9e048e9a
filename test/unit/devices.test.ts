import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { DeviceNames, devHex, parseMountinfo } from "../../src/enrich/devices.ts";

const MOUNTINFO = [
  "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
  "30 26 254:0 /srv/data /mnt/bind rw - ext4 /dev/vda rw",
  "31 26 259:65539 / /mnt/nvme\\040disk rw shared:1 - xfs /dev/nvme0n1p3 rw",
  "32 26 0:45 / /tmp rw,nosuid - tmpfs tmpfs rw",
  "garbage line",
].join("\n");

test("mountinfo: a device's root mount wins over bind mounts; escapes decoded", () => {
  const m = parseMountinfo(MOUNTINFO);
  expect(m.get((254 << 20) | 0)).toEqual({ source: "/dev/vda", mountPoint: "/", fsType: "ext4", rootSeen: true } as never);
  expect(m.get(259 * 0x100000 + 65539)?.mountPoint).toBe("/mnt/nvme disk");
  expect(m.get(45)?.fsType).toBe("tmpfs");
  expect(m.size).toBe(3);
});

test("dev_t in stat's encoding: kflowd's major<<8|minor for small minors, no collision above", () => {
  expect(devHex((9 << 20) | 2)).toBe("902");
  expect(devHex((254 << 20) | 0)).toBe("fe00");
  expect(devHex(259 * 0x100000 + 65539)).toBe("10010303"); // (3) | 259 << 8 | 0x10000 << 12
  expect(devHex((259 << 20) | 3)).not.toBe(devHex((258 << 20) | 259));
});

test("FileDevice text; an unknown device re-reads the table (at most once a second)", () => {
  const dir = mkdtempSync(`${tmpdir()}/kflowd-mnt-`);
  writeFileSync(`${dir}/mountinfo`, MOUNTINFO);
  let now = 0;
  const d = new DeviceNames(`${dir}/mountinfo`, () => now);
  expect(d.device((254 << 20) | 0)).toBe("fe00h:/dev/vda:/:ext4");
  expect(d.device((8 << 20) | 1)).toBe("801h:::");
  writeFileSync(`${dir}/mountinfo`, `${MOUNTINFO}\n40 26 8:1 / /boot rw - vfat /dev/sda1 rw`);
  expect(d.device((8 << 20) | 1)).toBe("801h:::"); // within the same second
  now = 1500;
  expect(d.device((8 << 20) | 1)).toBe("801h:/dev/sda1:/boot:vfat");
});
