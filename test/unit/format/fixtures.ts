/** Pieces of the sample records the formatter tests share. */
import type { FileRecord } from "../../../src/records/file.ts";
import { FsEvent, SockRole } from "../../../src/records/layout.gen.ts";
import { AF_INET, IPPROTO_TCP } from "../../../src/records/net.ts";
import type { SockDirection, SockRecord } from "../../../src/records/sock.ts";
import type { TaskIdentity } from "../../../src/records/task.ts";

/** A record's per-event counts: the events named, 0 for the others. */
export function counts(set: Partial<Record<number, number>>): number[] {
  return Array.from({ length: FsEvent.FS_EVENT_COUNT }, (_, i) => set[i] ?? 0);
}

/** The process of the sample records: a python3.11 run from bash. */
export const task: TaskIdentity = {
  pid: 4242,
  tid: 4243,
  ppid: 1,
  uid: 1000,
  gid: 100,
  startNs: 1_000_000_000n,
  comm: "python3",
  exe: "python3.11",
  parentExe: "bash",
  cgroupId: 0,
};

/** A file record: a python3.11 wrote /srv/data/report.txt. */
export const sampleFile: FileRecord = {
  task,
  tsFirstNs: 5_000_000_000n,
  tsNs: 5_250_000_001n,
  ino: 1_234_567n,
  dev: (8 << 20) | 1,
  mode: 0o100644,
  nlink: 1,
  uid: 0,
  gid: 4,
  events: 10,
  eventCounts: counts({ [FsEvent.FS_CREATE]: 1, [FsEvent.FS_OPEN]: 1, [FsEvent.FS_MODIFY]: 7, [FsEvent.FS_CLOSE_WRITE]: 1 }),
  size: 6_000,
  sizeFirst: 0,
  atimeNs: 1712244875643031330n,
  mtimeNs: 1712244876000000001n,
  ctimeNs: 1712244877999999999n,
  mtimeFirstNs: 1712244875000000000n,
  path: "/srv/data/report.txt",
  pathTruncated: false,
  origin: undefined,
  inodeKnown: true,
  deferred: false,
};

/** One direction of a socket's traffic. */
export function dir(packets: number, bytes: number): SockDirection {
  return {
    packets,
    dataPackets: packets,
    bytes,
    tsFirstNs: 0n,
    tsLastNs: 0n,
    ttlSum: 0,
    ttlPackets: 0,
    frags: 0,
    ifindex: 1,
    flags: [],
  };
}

/** An IPv4 address as the records carry it (16 bytes). */
export function v4(a: number, b: number, c: number, d: number): Uint8Array {
  const u = new Uint8Array(16);
  u.set([a, b, c, d]);
  return u;
}

/** A socket record: curl's closed HTTP connection, key 77. */
export const sampleSock: SockRecord = {
  key: 77n,
  task: { ...task, pid: 901, tid: 901, ppid: 900, comm: "curl", exe: "curl" },
  tsFirstNs: 10_000_000_000n,
  tsNs: 10_042_500_000n,
  family: AF_INET,
  proto: IPPROTO_TCP,
  type: 1,
  role: SockRole.SOCK_ROLE_CLIENT,
  state: 7,
  lport: 40022,
  rport: 80,
  laddr: v4(10, 1, 2, 3),
  raddr: v4(93, 184, 215, 14),
  tx: dir(6, 517),
  rx: dir(5, 1_532_000),
  srttUs: 1200,
  bytesAcked: 517,
  bytesRetrans: 0,
  retrans: 0,
  dsackDups: 0,
  rtoMs: 204,
  reorder: 0,
  drops: 0,
  queued: 0,
  unixPath: "",
  closed: true,
  deferred: false,
};
