/** Runs test/helpers/net_peer.py: one process per side, so records can be attributed. */
import { expect } from "bun:test";
import { ROOT } from "./paths.ts";

const PEER = `${ROOT}test/helpers/net_peer.py`;

export interface Peer {
  readonly pid: number;
  readonly exited: Promise<number>;
  /** writes a line to the peer's stdin (the modes that wait for "go") */
  say(line: string): Promise<void>;
}

/** Reads stream until text has appeared (it may come in more than one chunk); returns what was read. */
export async function waitForText(stream: ReadableStream<Uint8Array>, text: string): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  try {
    while (!seen.includes(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before '${text.trim()}' (got '${seen}')`);
      seen += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return seen;
}

/** Starts a peer; servers and receivers are awaited until they print "ready". */
export async function peer(...args: string[]): Promise<Peer> {
  const p = Bun.spawn(["python3", PEER, ...args], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  if (/-server$|-recv$/.test(args[0]!)) expect(await waitForText(p.stdout, "\n")).toBe("ready\n");
  const say = async (line: string): Promise<void> => {
    p.stdin.write(`${line}\n`);
    await p.stdin.flush();
  };
  return { pid: p.pid, exited: p.exited, say };
}
