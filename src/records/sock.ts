import { cString, u64, u64Big } from "./bytes.ts";
import { RecHdr, RecSock, RecSockDir, RecSockDirFlagCountsLen, RecSockFlags, RecSockTailLen, RecSockUnixPathLen } from "./layout.gen.ts";
import { decodeTask, taskTailLength, type TaskIdentity } from "./task.ts";

/** One direction of a socket's traffic. */
export interface SockDirection {
  readonly packets: number;
  readonly dataPackets: number;
  readonly bytes: number;
  readonly tsFirstNs: bigint;
  readonly tsLastNs: bigint;
  readonly ttlSum: number;
  readonly ttlPackets: number;
  /** received: IP fragments the datagrams arrived in */
  readonly frags: number;
  readonly ifindex: number;
  /** [TCP flag combination, packets] in the order first seen */
  readonly flags: readonly (readonly [number, number])[];
}

/** A socket's record: TCP, UDP (per cookie) or UNIX (per kernel socket). */
export interface SockRecord {
  /** key in map "socks": cookie, or socket inode | 1 << 63 for UNIX */
  readonly key: bigint;
  readonly task: TaskIdentity;
  readonly tsFirstNs: bigint;
  readonly tsNs: bigint;
  readonly family: number;
  readonly proto: number;
  readonly type: number;
  readonly role: number;
  readonly state: number;
  readonly lport: number;
  readonly rport: number;
  /** 16 bytes each; IPv4 in the first 4 */
  readonly laddr: Uint8Array;
  readonly raddr: Uint8Array;
  readonly tx: SockDirection;
  readonly rx: SockDirection;
  readonly srttUs: number;
  readonly bytesAcked: number;
  readonly bytesRetrans: number;
  readonly retrans: number;
  readonly dsackDups: number;
  /** undefined when the kernel's HZ could not be known */
  readonly rtoMs: number | undefined;
  readonly reorder: number;
  readonly drops: number;
  readonly queued: number;
  readonly unixPath: string;
  /** the kernel exported it because the socket closed: no further record of it comes */
  readonly closed: boolean;
  /** closed while the ring buffer was full: the agent took it from the map later */
  readonly deferred: boolean;
}

/** sun_path: a file name, or "@name" for an abstract address (leading NUL). */
function unixPath(bytes: Uint8Array, off: number): string {
  if (bytes[off] !== 0) return cString(bytes, off, RecSockUnixPathLen);
  const name = cString(bytes, off + 1, RecSockUnixPathLen - 1);
  return name === "" ? "" : `@${name}`;
}

/** [mask, n] for n below this, made once each (they are never changed) */
const SMALL_COUNT = 16;
const FLAG_PAIRS: (readonly [number, number])[] = Array.from({ length: RecSockDirFlagCountsLen * SMALL_COUNT }, (_, i) => [
  i >> 4,
  i & (SMALL_COUNT - 1),
]);
const NO_FLAGS: readonly (readonly [number, number])[] = [];

/** addresses decoded lately: a host's sockets share a few (they are never changed) */
const RECENT_ADDRS = 8;
const recentAddrs: Uint8Array[] = [];
let recentAddrsNext = 0;

/** The 16 address bytes at off: one of the arrays decoded lately if it has them. */
function address(bytes: Uint8Array, off: number): Uint8Array {
  for (let k = 0; k < recentAddrs.length; k++) {
    const a = recentAddrs[k]!;
    let i = 0;
    while (i < 16 && a[i] === bytes[off + i]) i++;
    if (i === 16) return a;
  }
  const a = bytes.slice(off, off + 16);
  recentAddrs[recentAddrsNext] = a;
  recentAddrsNext = (recentAddrsNext + 1) % RECENT_ADDRS;
  return a;
}

function decodeDir(view: DataView, off: number): SockDirection {
  const nflags = Math.min(view.getUint32(off + RecSockDir.nflags, true), RecSockDirFlagCountsLen);
  let flags = NO_FLAGS as (readonly [number, number])[];
  for (let i = 0; i < nflags; i++) {
    const mask = view.getUint8(off + RecSockDir.flagOrder + i) & (RecSockDirFlagCountsLen - 1);
    const n = view.getUint32(off + RecSockDir.flagCounts + 4 * mask, true);
    // (a record printed after an earlier part of its socket's traffic may have none of a combination)
    if (n === 0) continue;
    if (flags === NO_FLAGS) flags = [];
    flags.push(n < SMALL_COUNT ? FLAG_PAIRS[mask * SMALL_COUNT + n]! : [mask, n]);
  }
  return {
    packets: u64(view, off + RecSockDir.packets),
    dataPackets: u64(view, off + RecSockDir.dataPackets),
    bytes: u64(view, off + RecSockDir.bytes),
    tsFirstNs: u64Big(view, off + RecSockDir.tsFirstNs),
    tsLastNs: u64Big(view, off + RecSockDir.tsLastNs),
    ttlSum: u64(view, off + RecSockDir.ttlSum),
    ttlPackets: view.getUint32(off + RecSockDir.ttlPackets, true),
    frags: view.getUint32(off + RecSockDir.frags, true),
    ifindex: view.getUint32(off + RecSockDir.ifindex, true),
    flags,
  };
}

/** Decodes the struct rec_sock of size bytes at off; undefined if the sizes do not fit. */
export function decodeSock(view: DataView, bytes: Uint8Array, off: number, size: number): SockRecord | undefined {
  if (size < RecSock.tail || RecSock.tail + taskTailLength(view, off + RecSock.task) > size) return undefined;
  if (RecSock.tail + RecSockTailLen < size) return undefined;
  const flags = view.getUint8(off + RecSock.flags);
  return {
    key: u64Big(view, off + RecSock.key),
    task: decodeTask(view, bytes, off + RecSock.task, off + RecSock.tail),
    tsFirstNs: u64Big(view, off + RecSock.tsFirstNs),
    tsNs: u64Big(view, off + RecSock.hdr + RecHdr.tsNs),
    family: view.getUint8(off + RecSock.family),
    proto: view.getUint8(off + RecSock.proto),
    type: view.getUint8(off + RecSock.type),
    role: view.getUint8(off + RecSock.role),
    state: view.getUint8(off + RecSock.state),
    lport: view.getUint16(off + RecSock.lport, true),
    rport: view.getUint16(off + RecSock.rport, true),
    laddr: address(bytes, off + RecSock.laddr),
    raddr: address(bytes, off + RecSock.raddr),
    tx: decodeDir(view, off + RecSock.tx),
    rx: decodeDir(view, off + RecSock.rx),
    srttUs: view.getUint32(off + RecSock.srttUs, true),
    bytesAcked: u64(view, off + RecSock.bytesAcked),
    bytesRetrans: u64(view, off + RecSock.bytesRetrans),
    retrans: view.getUint32(off + RecSock.retrans, true),
    dsackDups: view.getUint32(off + RecSock.dsackDups, true),
    rtoMs: flags & RecSockFlags.SOCK_FLAG_RTO_UNKNOWN ? undefined : view.getUint32(off + RecSock.rtoMs, true),
    reorder: view.getUint32(off + RecSock.reorder, true),
    drops: view.getUint32(off + RecSock.drops, true),
    queued: view.getUint32(off + RecSock.queued, true),
    unixPath: unixPath(bytes, off + RecSock.unixPath),
    closed: (flags & RecSockFlags.SOCK_FLAG_CLOSED) !== 0,
    deferred: (flags & RecSockFlags.SOCK_FLAG_UNSENT) !== 0,
  };
}

const NO_TRAFFIC: SockDirection = {
  packets: 0,
  dataPackets: 0,
  bytes: 0,
  tsFirstNs: 0n,
  tsLastNs: 0n,
  ttlSum: 0,
  ttlPackets: 0,
  frags: 0,
  ifindex: 0,
  flags: [],
};

/** The socket of r without its traffic: for application messages beyond what r's own record holds. */
export function withoutTraffic(r: SockRecord): SockRecord {
  return { ...r, tx: NO_TRAFFIC, rx: NO_TRAFFIC };
}
