/**
 * Records to UDP collectors: one datagram per record to each collector, from one socket
 * per address family, opened at start and reused. A failed or refused send is counted,
 * never fatal; nothing is queued beyond what the kernel's socket buffer holds. The
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
  /** datagrams that could not be handed to the kernel */
  readonly failed: number;
  readonly sent: number;
}

export async function udpSink(collectors: readonly Collector[]): Promise<UdpSink> {
  const sockets = new Map<4 | 6, udp.Socket<"buffer">>();
  for (const family of new Set(collectors.map((c) => c.family))) {
    sockets.set(family, await Bun.udpSocket({ hostname: family === 6 ? "::" : "0.0.0.0" }));
  }
  const targets = collectors.map((c) => ({ ...c, socket: sockets.get(c.family)! }));
  const counts = { failed: 0, sent: 0 };
  return {
    send(text: string): void {
      for (const t of targets) {
        try {
          if (t.socket.send(text, t.port, t.host)) counts.sent++;
          else counts.failed++;
        } catch {
          counts.failed++;
        }
      }
    },
    close(): void {
      for (const s of sockets.values()) s.close();
    },
    get failed() {
      return counts.failed;
    },
    get sent() {
      return counts.sent;
    },
  };
}
