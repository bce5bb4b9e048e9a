/**
 * The names this host resolved, from the DNS responses the agent captures (SockRemoteName):
 * address -> the name asked for (the head of the CNAME chain), for as long as the answer's
 * TTL allows. Fed with every DNS message as it arrives, whether or not the socket that
 * carried it is printed; asked by the formatters for the remote address of a flow. A
 * name resolved before the agent started is not known. Bounded: the oldest answers go
 * first when it is full.
 */
import type { AppMessage } from "../records/app.ts";
import { AppKind } from "../records/layout.gen.ts";
import { AF_INET } from "../records/net.ts";
import { dnsResolved } from "./dns.ts";

/** most addresses remembered */
export const MAX_NAMES = 16384;
/**
 * a TTL of 0 ("do not cache") still names the connection its lookup was made for, which
 * starts right after the answer: every answer lives at least this long
 */
export const MIN_LIFETIME_NS = 1_000_000_000n;
const NS_PER_S = 1_000_000_000n;

interface Answer {
  readonly name: string;
  /** CLOCK_MONOTONIC ns until which the answer may be used */
  readonly untilNs: bigint;
}

/** The key of an address: IPv4 (also IPv4-mapped IPv6) as a number, IPv6 as an 8-unit string. */
function keyOf(b: Uint8Array, off: number, v4: boolean): number | string {
  if (v4) return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  let mapped = b[off + 10] === 0xff && b[off + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[off + i] !== 0) mapped = false;
  if (mapped) return keyOf(b, off + 12, true);
  let s = "";
  for (let i = 0; i < 16; i += 2) s += String.fromCharCode((b[off + i]! << 8) | b[off + i + 1]!);
  return s;
}

export class RemoteNames {
  private readonly byAddr = new Map<number | string, Answer>();

  constructor(private readonly max = MAX_NAMES) {}

  /** Learns the answers of msg, if it is a successful DNS response. */
  observe(msg: AppMessage): void {
    if (msg.app !== AppKind.APP_DNS) return;
    const d = msg.data;
    // over TCP a read may take the whole message with its length prefix, or the prefix
    // alone first (then the message follows as if it were a datagram)
    const prefixed = d.length >= 14 && ((d[0]! << 8) | d[1]!) === msg.len - 2;
    const resolved = (prefixed ? dnsResolved(d, true) : undefined) ?? dnsResolved(d, false);
    if (!resolved) return;
    for (const r of resolved) {
      let life = BigInt(r.ttl) * NS_PER_S;
      if (life < MIN_LIFETIME_NS) life = MIN_LIFETIME_NS;
      const key = keyOf(r.addr, 0, r.addr.length === 4);
      // re-inserted: the newest answer is the last to go
      this.byAddr.delete(key);
      if (this.byAddr.size >= this.max) this.byAddr.delete(this.byAddr.keys().next().value!);
      this.byAddr.set(key, { name: r.name, untilNs: msg.tsNs + life });
    }
  }

  /**
   * The name resolved to addr (family AF_INET: its first 4 bytes; else AF_INET6) by an
   * answer still valid at atNs (CLOCK_MONOTONIC ns: when the flow began), if any.
   */
  remoteName(family: number, addr: Uint8Array, atNs: bigint): string | undefined {
    // most hosts' flows without any lookup seen: no key made
    if (this.byAddr.size === 0) return undefined;
    const a = this.byAddr.get(keyOf(addr, 0, family === AF_INET));
    return a !== undefined && atNs <= a.untilNs ? a.name : undefined;
  }

  /** Addresses remembered. */
  get size(): number {
    return this.byAddr.size;
  }
}
