import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { CgroupLookup, HostInfo, NameLookup } from "../../../src/format/common.ts";
import { FS_EVENT_NAMES, type FormatContext, fileJson } from "../../../src/format/file-json.ts";
import { pretty } from "../../../src/format/pretty.ts";
import type { FileRecord } from "../../../src/records/file.ts";
import { FsEvent } from "../../../src/records/layout.gen.ts";
import { ROOT } from "../../helpers/paths.ts";
import { counts, task } from "./fixtures.ts";

const host: HostInfo = {
  hostName: "web-01",
  hostIp: "10.1.2.3",
  hostToken: 'tok"en',
  system: "Linux",
  kernel: "6.18.0",
  version: "kflowd-v0.1.0",
};

const names: NameLookup = {
  user: (uid) => ({ 0: "root", 1000: "al\\ice" })[uid] ?? "",
  group: (gid) => ({ 0: "root", 4: "adm" })[gid] ?? "",
};

const CONTAINER = "4f1c9e2ab7d3086e5f2a1b9c7d6e3f40a8b2c5d9e1f7a3b6c0d4e8f2a5b9c3d7";
/** id 0x1234 is a docker container's scope, 0x99 a cgroup that cannot be named */
const cgroups: CgroupLookup = {
  cgroup: (id) =>
    id === 0x1234
      ? { path: `/system.slice/docker-${CONTAINER}.scope`, containerId: CONTAINER }
      : id === 7
        ? { path: "/user.slice", containerId: undefined }
        : undefined,
};

// A hostile name: quote, backslash, newline, tab, a control byte, U+FFFD from invalid UTF-8.
const record: FileRecord = {
  task: { ...task, cgroupId: 0x1234 },
  tsFirstNs: 5_000_000_000n,
  tsNs: 5_250_000_001n,
  ino: 0x1234567890abcdefn,
  dev: (8 << 20) | 1,
  mode: 0o104755,
  nlink: 1,
  uid: 0,
  gid: 4,
  events: 10,
  eventCounts: counts({ [FsEvent.FS_CREATE]: 1, [FsEvent.FS_OPEN]: 1, [FsEvent.FS_MODIFY]: 7, [FsEvent.FS_CLOSE_WRITE]: 1 }),
  size: 6_000_000_000,
  sizeFirst: 0,
  atimeNs: 1712244875643031330n,
  mtimeNs: 1712244876000000001n,
  ctimeNs: 1712244877999999999n,
  mtimeFirstNs: 1712244875000000000n,
  path: '/srv/da"ta/we\\ird\n\tna\u0001me\uFFFD.txt',
  pathTruncated: false,
  origin: undefined,
  inodeKnown: true,
  deferred: false,
};

const ctx: FormatContext = {
  host,
  names,
  interfaces: { interface: (i) => (i === 1 ? "1:lo:00:00:00:00:00:00" : "") },
  devices: { device: (dev) => (dev === ((8 << 20) | 1) ? "801h:/dev/sda1:/srv:ext4" : "") },
  cgroups,
  remoteNames: { remoteName: () => "never.example" },
  seq: 17,
  nowNs: 1764172800123456789n,
  uptimeNs: 3_500_000_000n,
};

/** Compares with test/fixtures/NAME; UPDATE_GOLDEN=1 rewrites the file instead. */
function golden(name: string, actual: string): void {
  const path = `${ROOT}test/fixtures/${name}`;
  if (process.env.UPDATE_GOLDEN) writeFileSync(path, actual);
  expect(existsSync(path)).toBe(true);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("file record JSON", () => {
  const min = fileJson(record, ctx);

  test("one line, valid JSON, the hostile path round-trips", () => {
    expect(min).not.toContain("\n");
    const obj = JSON.parse(min);
    expect(obj.FilePath + obj.File).toBe(record.path);
    expect(obj.File).toBe("we\\ird\n\tna\u0001me\uFFFD.txt");
    expect(obj.InfoHostToken).toBe('tok"en');
    expect(obj.ProcUser).toBe("al\\ice");
  });

  test("keys in kflowd's order", () => {
    expect(Object.keys(JSON.parse(min))).toEqual([
      "InfoSequenceNumber",
      "InfoTimestamp",
      "InfoMonitor",
      "InfoHostName",
      "InfoHostIP",
      "InfoHostToken",
      "InfoSystem",
      "InfoKernel",
      "InfoVersion",
      "InfoUptime",
      "ProcParent",
      "Proc",
      "ProcUser",
      "ProcGroup",
      "ProcPPID",
      "ProcPID",
      "ProcTID",
      "ProcUID",
      "ProcGID",
      "ProcAge",
      "FilePath",
      "File",
      "FileMode",
      "FileEventCount",
      "FileEvents",
      "FileEventsDuration",
      "FileInode",
      "FileInodeLinkCount",
      "FileDevice",
      "FilePermissions",
      "FileUser",
      "FileGroup",
      "FileUID",
      "FileGID",
      "FileSize",
      "FileSizeChange",
      "FileAccessTime",
      "FileStatusChangeTime",
      "FileModificationTime",
      "FileModificationTimeChange",
      "ProcCgroup",
      "ProcContainerId",
    ]);
  });

  test("the cgroup keys come after every key of kflowd's: after the checksums, after the events of a record without inode", () => {
    const withDigests = Object.keys(JSON.parse(fileJson(record, ctx, { md5: "m", sha256: "s" })));
    expect(withDigests.slice(-4)).toEqual(["FileMD5", "FileSHA256", "ProcCgroup", "ProcContainerId"]);
    const bare = Object.keys(JSON.parse(fileJson({ ...record, inodeKnown: false }, ctx)));
    expect(bare.slice(-3)).toEqual(["FileEventsDuration", "ProcCgroup", "ProcContainerId"]);
    const obj = JSON.parse(min);
    expect(obj.ProcCgroup).toBe(`/system.slice/docker-${CONTAINER}.scope`);
    expect(obj.ProcContainerId).toBe(CONTAINER);
  });

  test("no container: ProcCgroup alone; no id, or one that cannot be named: neither key", () => {
    const plain = JSON.parse(fileJson({ ...record, task: { ...task, cgroupId: 7 } }, ctx));
    expect(plain.ProcCgroup).toBe("/user.slice");
    expect(plain).not.toHaveProperty("ProcContainerId");
    for (const cgroupId of [0, 0x99]) {
      const keys = Object.keys(JSON.parse(fileJson({ ...record, task: { ...task, cgroupId } }, ctx)));
      expect(keys).not.toContain("ProcCgroup");
      expect(keys).not.toContain("ProcContainerId");
    }
  });

  test("file records never carry SockRemoteName", () => {
    expect(min).not.toContain("SockRemoteName");
  });

  test("the 64-bit inode is printed whole", () => {
    expect(min).toContain(`"FileInode": ${0x1234567890abcdefn}`);
  });

  test("unchanged size and mtime leave their change keys out", () => {
    const same = fileJson({ ...record, sizeFirst: record.size, mtimeFirstNs: record.mtimeNs }, ctx);
    const keys = Object.keys(JSON.parse(same));
    expect(keys).not.toContain("FileSizeChange");
    expect(keys).not.toContain("FileModificationTimeChange");
  });

  test("a deferred record says so after InfoUptime; others have no such key", () => {
    const keys = Object.keys(JSON.parse(fileJson({ ...record, deferred: true }, ctx)));
    expect(keys.slice(keys.indexOf("InfoUptime"), keys.indexOf("InfoUptime") + 3)).toEqual(["InfoUptime", "InfoDeferred", "ProcParent"]);
    expect(JSON.parse(fileJson({ ...record, deferred: true }, ctx)).InfoDeferred).toBe(true);
    expect(Object.keys(JSON.parse(min))).not.toContain("InfoDeferred");
  });

  test("a rename carries FileOrigin right after File", () => {
    const keys = Object.keys(JSON.parse(fileJson({ ...record, origin: "old.txt" }, ctx)));
    expect(keys.slice(keys.indexOf("File"), keys.indexOf("File") + 3)).toEqual(["File", "FileOrigin", "FileMode"]);
  });

  test("without inode data only path, mode (if known), events and the process are reported", () => {
    const bare = JSON.parse(fileJson({ ...record, inodeKnown: false, mode: 0o120000, nlink: 0 }, ctx));
    expect(Object.keys(bare).filter((k) => k.startsWith("File"))).toEqual([
      "FilePath",
      "File",
      "FileMode",
      "FileEventCount",
      "FileEvents",
      "FileEventsDuration",
    ]);
    expect(bare.FileMode).toBe("symlink");
    const noMode = JSON.parse(fileJson({ ...record, inodeKnown: false, mode: 0 }, ctx));
    expect(noMode).not.toHaveProperty("FileMode");
  });

  test("event names follow the kernel's enum, CREATE first", () => {
    expect(FS_EVENT_NAMES.slice(0, 4)).toEqual(["CREATE", "OPEN", "OPEN_EXEC", "ACCESS"]);
    expect(FS_EVENT_NAMES).toHaveLength(FsEvent.FS_EVENT_COUNT);
  });

  test("json-min matches the golden text", () => golden("file-record.min.json", `${min}\n`));

  test("pretty json matches the golden text and parses to the same object", () => {
    const text = pretty(min);
    expect(JSON.parse(text)).toEqual(JSON.parse(min));
    golden("file-record.pretty.json", `${text}\n`);
  });
});
