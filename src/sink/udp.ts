/**
 * Records to UDP collectors: one datagram per record to each collector, from one socket
 * per address family, opened at start and reused. A failed or refused send is counted,
 * never fatal; nothing is queued beyond what the kernel's socket buffer holds. A
 * collector that is down makes its host answer with ICMP errors; the kernel reports each
 * (IP_RECVERR) for a datagram already sent, and they are counted as failed too. The
 * agent's own sockets are marked in the kernel when created and never monitored.
 */
import type { udp } from "bun";

export interface Collector {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export interface UdpSink {
  send(text: string): void;
  close(): void;
  /**
   * datagrams that did not reach a collector as far as the agent can know: not handed to
   * the kernel (no route, buffer full) or refused by ICMP (`refused`, included here)
   */
  readonly failed: number;
  /** ICMP errors (port or host unreachable) the kernel reported for datagrams sent */
  readonly refused: number;
  readonly sent: number;
}

export async function udpSink(collectors: readonly Collector[]): Promise<UdpSink> {
  const counts = { failed: 0, refused: 0, sent: 0 };
  const sockets = new Map<4 | 6, udp.Socket<"buffer">>();
  for (const family of new Set(collectors.map((c) => c.family))) {
    const socket = await Bun.udpSocket({
      hostname: family === 6 ? "::" : "0.0.0.0",
      socket: {
        // without a handler each ICMP error would be thrown as an uncaught error
        error(): void {
          counts.refused++;
          counts.failed++;
        },
      },
    });
    sockets.set(family, socket);
  }
  const targets = collectors.map((c) => ({ ...c, socket: sockets.get(c.family)! }));

  /** One attempt: whether the kernel took the datagram, undefined if the send threw. */
  function sendOnce(t: (typeof targets)[number], text: string): boolean | undefined {
    try {
      return t.socket.send(text, t.port, t.host);
    } catch {
      return undefined;
    }
  }
  return {
    send(text: string): void {
      for (const t of targets) {
        // an ICMP error for an earlier datagram (to any collector on this socket) is also
        // returned by the next send, which then sends nothing: that error is counted by
        // `error` above, and the send is tried once more
        if (sendOnce(t, text) ?? sendOnce(t, text) ?? false) counts.sent++;
        else counts.failed++;
      }
    },
    close(): void {
      for (const s of sockets.values()) s.close();
    },
    get failed() {
      return counts.failed;
    },
    get refused() {
      return counts.refused;
    },
    get sent() {
      return counts.sent;
    },
  };
}
