import { describe, expect, test } from "bun:test";
import { AppMessages, MAX_CLOSED } from "../../../src/aggregate/app-messages.ts";
import type { AppMessage } from "../../../src/records/app.ts";
import type { SockRecord } from "../../../src/records/sock.ts";

// AppMessages only looks at the socket keys of records and messages
const sock = (key: bigint) => ({ key }) as SockRecord;
const message = (sockKey: bigint) => ({ sockKey }) as AppMessage;

describe("application messages waiting for their socket", () => {
  test("a message after the socket's last record makes it late once", () => {
    const m = new AppMessages(4);
    m.closed(sock(1n));
    m.add(message(1n));
    expect(m.lateSockets().map((r) => r.key)).toEqual([1n]);
    expect(m.lateSockets()).toEqual([]);
    expect(m.take(1n)?.length).toBe(1);
  });

  test("a TCP connection on no capture port is not remembered; one on a capture port is", () => {
    const tcp = (key: bigint, lport: number, rport: number) => ({ key, proto: 6, lport, rport }) as SockRecord;
    const m = new AppMessages(4, new Set([80]));
    m.closed(tcp(1n, 18090, 40000));
    m.closed(tcp(2n, 40001, 80));
    m.closed(tcp(3n, 80, 40002));
    m.closed({ key: 4n, proto: 17, lport: 5000, rport: 6000 } as SockRecord);
    for (const k of [1n, 2n, 3n, 4n]) m.add(message(k));
    expect(m.lateSockets().map((r) => r.key)).toEqual([2n, 3n, 4n]);
    // the message of socket 1 waits like any without a record
    expect(m.take(1n)?.length).toBe(1);
  });

  test("a late socket forgotten before the drain is skipped, its message kept waiting", () => {
    const m = new AppMessages(4);
    m.closed(sock(0n));
    m.add(message(0n));
    // more closed sockets than are remembered push socket 0 out
    for (let k = 1n; k <= BigInt(MAX_CLOSED); k++) m.closed(sock(k));
    expect(m.lateSockets()).toEqual([]);
    expect(m.waiting).toBe(1);
    expect(m.take(0n)?.length).toBe(1);
  });
});
