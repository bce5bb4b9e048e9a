/**
 * Application messages waiting for their socket's record: the kernel hands them over as
 * they happen, the socket record comes when the socket closes or times out. Bounded: a
 * socket whose record never comes loses its messages to newer ones, counted. Sockets
 * whose last record was printed are remembered for a while: data read after the close (a
 * client in TIME_WAIT reading its reply) still finds them.
 */
import type { AppMessage } from "../records/app.ts";
import { IPPROTO_TCP } from "../records/net.ts";
import type { SockRecord } from "../records/sock.ts";

/** most sockets with waiting messages */
const MAX_SOCKETS = 4096;
/** most closed sockets remembered */
export const MAX_CLOSED = 1024;
const NONE: readonly SockRecord[] = [];

export class AppMessages {
  private readonly bySocket = new Map<bigint, AppMessage[]>();
  /** the last records of closed sockets by key, oldest first */
  private readonly closedSockets = new Map<bigint, SockRecord>();
  /** closed sockets that got messages after their last record */
  private readonly late = new Set<bigint>();
  /** messages dropped because their socket's record never came */
  dropped = 0;

  /**
   * tcpPorts: the TCP ports messages are captured on (-p). A TCP connection on none of
   * them never has any (the kernel's rule): its last record is not remembered, which at
   * a web server's connection rate would be most of them. Undefined: every socket's is.
   */
  constructor(
    private readonly perRecord: number,
    private readonly tcpPorts?: ReadonlySet<number>,
  ) {}

  /** Keeps msg for its socket; true when the socket now holds a record's worth. */
  add(msg: AppMessage): boolean {
    let list = this.bySocket.get(msg.sockKey);
    if (!list) {
      if (this.bySocket.size >= MAX_SOCKETS) {
        const [oldest, lost] = this.bySocket.entries().next().value as [bigint, AppMessage[]];
        this.bySocket.delete(oldest);
        this.dropped += lost.length;
      }
      list = [];
      this.bySocket.set(msg.sockKey, list);
    }
    list.push(msg);
    if (this.closedSockets.has(msg.sockKey)) this.late.add(msg.sockKey);
    return list.length >= this.perRecord;
  }

  /** The last record of a socket was printed. */
  closed(last: SockRecord): void {
    const ports = this.tcpPorts;
    if (ports && last.proto === IPPROTO_TCP && last.rport !== 0 && !ports.has(last.lport) && !ports.has(last.rport)) {
      return;
    }
    if (this.closedSockets.size >= MAX_CLOSED) {
      // forgotten: its late messages wait like those of any socket without a record
      const oldest = this.closedSockets.keys().next().value!;
      this.closedSockets.delete(oldest);
      this.late.delete(oldest);
    }
    this.closedSockets.set(last.key, last);
  }

  /** The last records of closed sockets that have messages again; each returned once. */
  lateSockets(): readonly SockRecord[] {
    if (this.late.size === 0) return NONE;
    const last: SockRecord[] = [];
    for (const key of this.late) {
      const rec = this.closedSockets.get(key);
      if (rec) last.push(rec);
    }
    this.late.clear();
    return last;
  }

  /** Messages still waiting for a record (at stop: never claimed). */
  get waiting(): number {
    let n = 0;
    for (const list of this.bySocket.values()) n += list.length;
    return n;
  }

  /** Whether messages of socket key wait. */
  waitingFor(key: bigint): boolean {
    return this.bySocket.size !== 0 && this.bySocket.has(key);
  }

  /** The messages for the record of socket key (at most a record's worth), removed. */
  take(key: bigint): AppMessage[] | undefined {
    // most sockets have none: no lookup (hashing a bigint) while nothing waits at all
    if (this.bySocket.size === 0) return undefined;
    const list = this.bySocket.get(key);
    if (!list) return undefined;
    if (list.length <= this.perRecord) {
      this.bySocket.delete(key);
      return list;
    }
    return list.splice(0, this.perRecord);
  }
}
