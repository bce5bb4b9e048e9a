// The syslog output against a relay made here with Bun.listen (plain TCP and TLS): the
// framing and header, spooling while the relay is away, sending the window again after a
// lost connection, the bound and its drop count, TLS with a CA and a client certificate.
// The real relay (rsyslog) is in test/e2e/fleet-syslog.test.ts.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Socket, TCPSocketListener } from "bun";
import { SetupError } from "../../../ffi/errors.ts";
import type { SyslogConfig } from "../../../src/config.ts";
import type { LineOutput } from "../../../src/sink/line-output.ts";
import { syslogOutput } from "../../../src/sink/syslog.ts";
import { makeCerts } from "../../helpers/certs.ts";
import { pollFor } from "../../helpers/agent.ts";

setDefaultTimeout(30_000);
const dir = mkdtempSync(`${tmpdir()}/kflowd-syslog-unit-`);
const certs = makeCerts(`${dir}/certs`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A relay: takes octet-counted frames, keeps their messages; knows the client certificate's CN. */
class Relay {
  readonly messages: string[] = [];
  readonly clients: string[] = [];
  private readonly conns = new Set<Socket<{ buf: string }>>();
  private readonly server: TCPSocketListener<{ buf: string }>;

  constructor(port: number, tls?: { requestCert: boolean }) {
    const self = this;
    this.server = Bun.listen<{ buf: string }>({
      hostname: "127.0.0.1",
      port,
      tls: tls && {
        cert: Bun.file(certs.serverCert),
        key: Bun.file(certs.serverKey),
        ca: Bun.file(certs.ca),
        requestCert: tls.requestCert,
      },
      socket: {
        open(s) {
          s.data = { buf: "" };
          self.conns.add(s);
        },
        handshake(s, ok) {
          if (ok) self.clients.push(String((s.getPeerCertificate() as { subject?: { CN?: string } })?.subject?.CN ?? ""));
        },
        data(s, chunk) {
          s.data.buf += chunk.toString();
          for (;;) {
            const sp = s.data.buf.indexOf(" ");
            if (sp < 0) break;
            const len = Number(s.data.buf.slice(0, sp));
            // lengths are bytes: the test's messages are ASCII apart from the one checked apart
            const bytes = Buffer.from(s.data.buf.slice(sp + 1));
            if (bytes.length < len) break;
            const msg = bytes.subarray(0, len).toString();
            self.messages.push(msg);
            s.data.buf = s.data.buf.slice(sp + 1 + msg.length);
          }
        },
        close(s) {
          self.conns.delete(s);
        },
      },
    });
  }

  get port(): number {
    return this.server.port;
  }

  get connections(): number {
    return this.conns.size;
  }

  /** The JSON of each message (what follows the header's "- - "). */
  records(): { seq: number }[] {
    return this.messages.map((m) => JSON.parse(m.slice(m.indexOf(" - - ") + 5)) as { seq: number });
  }

  /** Goes away: the listener and every connection (with a reset, as a crashed relay's host does). */
  stop(): void {
    for (const c of this.conns) c.terminate();
    this.server.stop(true);
  }
}

const encoder = new TextEncoder();

function send(out: LineOutput, seq: number, pad = 0): void {
  const b = encoder.encode(JSON.stringify({ seq, pad: "p".repeat(pad) }));
  // the bytes sit inside a larger buffer, as the printer's do
  const buf = new Uint8Array(b.length + 10);
  buf.set(b, 5);
  out.line(buf, 5, 5 + b.length);
}

function config(port: number, extra: Partial<SyslogConfig> = {}): SyslogConfig {
  return { scheme: "tcp", host: "127.0.0.1", port, url: `tcp://127.0.0.1:${port}`, spoolBytes: 32 << 20, ...extra };
}

async function freePort(): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

const seqs = (r: Relay) => [...new Set(r.records().map((x) => x.seq))].sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("syslog output", () => {
  test("RFC 5424 header and octet counting; every record arrives once, in order", async () => {
    const relay = new Relay(0);
    const notices: string[] = [];
    const out = await syslogOutput(config(relay.port), { hostName: "web 01\n", procId: 4242, notice: (l) => notices.push(l) });
    try {
      await pollFor(
        () => out.status().up,
        "the connection",
        5000,
        () => notices.join(""),
      );
      for (let i = 0; i < 1000; i++) send(out, i);
      out.line(encoder.encode('{"seq": 1000, "é": "ü"}'), 0, encoder.encode('{"seq": 1000, "é": "ü"}').length);
      out.flush();
      await pollFor(
        () => relay.messages.length === 1001,
        "1001 messages",
        5000,
        () => notices.join(""),
      );
      expect(relay.records().map((r) => r.seq)).toEqual(range(0, 1001));
      expect(relay.messages[0]).toMatch(/^<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z web01 kflowd 4242 - - \{"seq":0,/);
      expect(out.status()).toMatchObject({ output: "syslog", up: true, records: 1001, dropped: 0, connections: 1, resent: 0 });
      await out.close(1000);
      expect(out.status().dropped).toBe(0);
      expect(notices).toEqual([]);
    } finally {
      relay.stop();
    }
  });

  test("no relay yet: records are spooled, said once, and all sent once it listens", async () => {
    const port = await freePort();
    const notices: string[] = [];
    const out = await syslogOutput(config(port), { hostName: "h", procId: 1, notice: (l) => notices.push(l) });
    for (let i = 0; i < 500; i++) send(out, i);
    out.flush();
    await pollFor(
      () => notices.length > 0,
      "the notice",
      5000,
      () => "",
    );
    expect(out.status().up).toBe(false);
    const relay = new Relay(port);
    try {
      await pollFor(
        () => relay.messages.length === 500,
        "500 messages",
        10_000,
        () => notices.join(""),
      );
      expect(seqs(relay)).toEqual(range(0, 500));
      expect(notices[0]).toBe(
        `kflowd: syslog tcp://127.0.0.1:${port}: cannot connect (ECONNREFUSED); records are spooled (up to 32 MiB) and sent once it is back\n`,
      );
      expect(notices.at(-1)).toMatch(new RegExp(`^kflowd: syslog tcp://127.0.0.1:${port}: connected after \\d+\\.\\d s\\n$`));
      await out.close(1000);
      expect(out.status().dropped).toBe(0);
    } finally {
      relay.stop();
    }
  });

  test("the relay goes away and comes back: records sent before are sent again, none is missing", async () => {
    let relay = new Relay(0);
    const port = relay.port;
    const notices: string[] = [];
    const out = await syslogOutput(config(port), { hostName: "h", procId: 1, notice: (l) => notices.push(l) });
    try {
      await pollFor(
        () => out.status().up,
        "the connection",
        5000,
        () => notices.join(""),
      );
      for (let i = 0; i < 2000; i++) send(out, i, 200);
      out.flush();
      await pollFor(
        () => relay.messages.length === 2000,
        "2000 messages",
        5000,
        () => notices.join(""),
      );
      relay.stop();
      // records while it is away
      await pollFor(
        () => !out.status().up,
        "the lost connection",
        5000,
        () => notices.join(""),
      );
      for (let i = 2000; i < 3000; i++) send(out, i, 200);
      out.flush();
      relay = new Relay(port);
      await pollFor(
        () => seqs(relay).length === 3000 - seqs(relay)[0]! && seqs(relay).at(-1) === 2999,
        "the rest",
        10_000,
        () => notices.join(""),
      );
      const status = out.status();
      expect(status).toMatchObject({ up: true, connections: 2, dropped: 0 });
      // the window (up to 4 MiB: all 2000 records here) came again before the new ones
      expect(status.resent).toBe(2000);
      expect(seqs(relay)).toEqual(range(0, 3000));
      expect(notices.some((n) => n.includes("connection lost"))).toBe(true);
      expect(notices.at(-1)).toMatch(/connected after \d+\.\d s; sending the last 2000 records again \(\d+ KiB\)\n$/);
      await out.close(1000);
    } finally {
      relay.stop();
    }
  });

  test("a relay that never comes: memory bounded by the spool, every record counted as dropped at stop", async () => {
    const port = await freePort();
    const notices: string[] = [];
    const out = await syslogOutput(config(port, { spoolBytes: 1 << 20 }), { hostName: "h", procId: 1, notice: (l) => notices.push(l) });
    for (let i = 0; i < 20_000; i++) send(out, i, 100);
    out.flush();
    const s = out.status();
    expect(s.queuedBytes).toBeLessThanOrEqual(1 << 20);
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.records + s.dropped).toBe(20_000);
    expect(notices.filter((n) => n.includes("spool full (1 MiB); records are dropped until the relay takes them (counted)"))).toHaveLength(
      1,
    );
    await out.close(100);
    expect(out.status().dropped).toBe(20_000);
  });

  test("a spool of 4096 MiB (the largest) is said as such: sizes of 2 GiB and more do not wrap", async () => {
    const port = await freePort();
    const notices: string[] = [];
    const out = await syslogOutput(config(port, { spoolBytes: 4096 * 2 ** 20 }), {
      hostName: "h",
      procId: 1,
      notice: (l) => notices.push(l),
    });
    send(out, 1);
    out.flush();
    await pollFor(
      () => notices.length > 0,
      "the notice",
      5000,
      () => "",
    );
    expect(notices[0]).toContain("records are spooled (up to 4096 MiB)");
    expect(out.status().records).toBe(1);
    await out.close(100);
  });

  test("TLS with the relay's CA and a client certificate the relay checks", async () => {
    const relay = new Relay(0, { requestCert: true });
    const notices: string[] = [];
    const out = await syslogOutput(
      config(relay.port, {
        scheme: "tls",
        host: "localhost",
        url: `tls://localhost:${relay.port}`,
        ca: certs.ca,
        cert: certs.clientCert,
        key: certs.clientKey,
      }),
      { hostName: "h", procId: 1, notice: (l) => notices.push(l) },
    );
    try {
      for (let i = 0; i < 100; i++) send(out, i);
      out.flush();
      await pollFor(
        () => relay.messages.length === 100,
        "100 messages over TLS",
        5000,
        () => notices.join(""),
      );
      expect(seqs(relay)).toEqual(range(0, 100));
      expect(relay.clients).toEqual(["kflowd-agent"]);
      await out.close(1000);
      expect(notices).toEqual([]);
    } finally {
      relay.stop();
    }
  });

  test("TLS: a relay whose certificate the CA did not sign is refused, said once, records wait", async () => {
    const relay = new Relay(0, { requestCert: false });
    const notices: string[] = [];
    const out = await syslogOutput(
      config(relay.port, { scheme: "tls", host: "localhost", url: `tls://localhost:${relay.port}`, ca: certs.otherCa }),
      { hostName: "h", procId: 1, notice: (l) => notices.push(l) },
    );
    try {
      send(out, 1);
      out.flush();
      await pollFor(
        () => notices.length > 0,
        "the refusal",
        5000,
        () => "",
      );
      expect(notices[0]).toMatch(/^kflowd: syslog tls:\/\/localhost:\d+: TLS handshake failed \(.+\); records are spooled/);
      expect(relay.messages).toEqual([]);
      expect(out.status().up).toBe(false);
      await out.close(100);
      expect(out.status().dropped).toBe(1);
    } finally {
      relay.stop();
    }
  });

  test("unreadable or malformed TLS files name their option", async () => {
    const tls = { scheme: "tls" as const, host: "localhost", url: "tls://localhost:1" };
    await expect(syslogOutput(config(1, { ...tls, ca: `${dir}/missing.pem` }), { hostName: "h", procId: 1 })).rejects.toThrow(
      new SetupError(`option --syslog-ca: cannot read ${dir}/missing.pem: ENOENT`),
    );
    await expect(
      syslogOutput(config(1, { ...tls, ca: certs.ca, cert: certs.clientCert, key: certs.serverKey }), { hostName: "h", procId: 1 }),
    ).rejects.toThrow(/^option --syslog-cert\/--syslog-key: /);
  });
});
