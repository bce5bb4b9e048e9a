/** Runs test/helpers/net_peer.py: one process per side, so records can be attributed. */
import { expect } from "bun:test";
import { ROOT } from "./paths.ts";

const PEER = `${ROOT}test/helpers/net_peer.py`;

export interface Peer {
  readonly pid: number;
  readonly exited: Promise<number>;
}

/** Starts a peer; servers and receivers are awaited until they print "ready". */
export async function peer(...args: string[]): Promise<Peer> {
  const p = Bun.spawn(["python3", PEER, ...args], { stdout: "pipe", stderr: "inherit" });
  if (/-server$|-recv$/.test(args[0]!)) {
    // the line may come in more than one chunk
    const reader = p.stdout.getReader();
    const decoder = new TextDecoder();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += decoder.decode(value, { stream: true });
    }
    expect(line).toBe("ready\n");
    reader.releaseLock();
  }
  return { pid: p.pid, exited: p.exited };
}
