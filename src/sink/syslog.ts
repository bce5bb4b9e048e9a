/**
 * Records to a syslog relay (rsyslog, syslog-ng, ...) over one persistent TCP or TLS
 * connection. Each record is one syslog message: an RFC 5424 header (PRI 14, user.info;
 * the time; the host name; app "kflowd"; the agent's PID) and the record's one-line JSON
 * as MSG, framed by octet counting (RFC 5425 for TLS, RFC 6587 for plain TCP).
 *
 * Records go into a bounded spool (spool.ts) and from there to the connection, once per
 * batch. While the relay is away, records wait in the spool, and the agent connects again
 * with backoff (0.5 s doubling to 30 s, jittered). After a lost connection the last
 * records sent on it are sent again (at least once, never silently lost within the
 * spool's bound; duplicates carry the same InfoSequenceNumber and InfoTimestamp). What
 * does not fit into the spool is dropped and counted, and so are records never sent when
 * the agent stops.
 */
import { createSecureContext } from "node:tls";
import type { Socket, TCPSocketConnectOptions, TLSOptions } from "bun";
import { SetupError } from "../../ffi/errors.ts";
import type { SyslogConfig } from "../config.ts";
import { copyBytes, encode } from "../format/json-bytes.ts";
import type { LineOutput, OutputStatus } from "./line-output.ts";
import { Spool } from "./spool.ts";

/**
 * the window of records sent again after a lost connection: at least this (up to two
 * chunks more), or half the spool
 */
export const MAX_WINDOW_BYTES = 4 << 20;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** a connection up this long makes the next retry start from FIRST_RETRY_MS again */
const STABLE_MS = 10_000;
/** TCP keep-alive probes after this long without traffic: a relay host that vanished is noticed */
const KEEPALIVE_MS = 60_000;
/** PRI: facility user (1), severity informational (6) */
const PRI = 14;

export interface SyslogOptions {
  /** HOSTNAME of the header (the host's name) */
  readonly hostName: string;
  /** PROCID of the header */
  readonly procId: number;
  /** one line for the operator (stderr by default) */
  readonly notice?: (line: string) => void;
}

/** HOSTNAME: printable US-ASCII without spaces, at most 255 characters, else "-" (RFC 5424 §6.2.4). */
function headerName(name: string): string {
  const clean = name.replace(/[^\x21-\x7e]/g, "").slice(0, 255);
  return clean === "" ? "-" : clean;
}

/** Reads a PEM file named by an option; a missing or unreadable file names the option. */
async function pemFile(flag: string, path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await Bun.file(path).text();
  } catch (e) {
    throw new SetupError(`option ${flag}: cannot read ${path}: ${(e as { code?: string }).code ?? String(e)}`);
  }
}

/** The TLS options for the relay, checked at start so that a bad file is named at once. */
async function tlsOptions(config: SyslogConfig): Promise<TLSOptions | undefined> {
  if (config.scheme !== "tls") return undefined;
  const ca = await pemFile("--syslog-ca", config.ca);
  const cert = await pemFile("--syslog-cert", config.cert);
  const key = await pemFile("--syslog-key", config.key);
  for (const [flag, options] of [
    ["--syslog-ca", { ca }],
    ["--syslog-cert/--syslog-key", { cert, key }],
  ] as const) {
    try {
      createSecureContext(options);
    } catch (e) {
      throw new SetupError(`option ${flag}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // the relay's certificate must chain to the CA and name HOST (Bun checks both)
  return { ca, cert, key, rejectUnauthorized: true };
}

function reason(e: unknown): string {
  return (e as { code?: string } | null)?.code ?? (e instanceof Error ? e.message : String(e));
}

/** Opens the output and starts connecting; records are spooled until the relay answers. */
export async function syslogOutput(config: SyslogConfig, opts: SyslogOptions): Promise<LineOutput> {
  const tls = await tlsOptions(config);
  const notice = opts.notice ?? ((line: string) => process.stderr.write(line));
  const say = (text: string): void => notice(`kflowd: syslog ${config.url}: ${text}\n`);
  const spool = new Spool(config.spoolBytes, Math.min(MAX_WINDOW_BYTES, Math.floor(config.spoolBytes / 2)));
  const spoolMiB = Math.floor(config.spoolBytes / (1 << 20));
  const host = headerName(opts.hostName);

  /**
   * the header's bytes for the millisecond headerMs, taken again at the first record of a
   * batch: the records of one drain share its time (reading the clock is ~40 ns a record)
   */
  let header: Uint8Array = new Uint8Array(0);
  let headerMs = -1;
  let headerStale = true;
  let socket: Socket | undefined;
  let up = false;
  /** an attempt is under way (TCP connect, TLS handshake) */
  let connecting = false;
  /** the connection took less than it was given: wait for drain */
  let busy = false;
  let stopping = false;
  let connections = 0;
  let resent = 0;
  let droppedAtStop = 0;
  let upSince = 0;
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  /** since when the relay is away (0: it is not), and what was last said about it */
  let downSince = 0;
  let lastSaid = "";
  let fullSaid = false;
  /** records and bytes to be sent again on the next connection */
  let toResend = { bytes: 0, records: 0 };

  function refreshHeader(ms: number): void {
    headerMs = ms;
    header = encode(`<${PRI}>1 ${new Date(ms).toISOString()} ${host} kflowd ${opts.procId} - - `);
  }

  const write = (buf: Uint8Array, offset: number, length: number): number => socket?.write(buf, offset, length) ?? -1;

  function pump(): void {
    if (!up || busy) return;
    // false: the connection is gone, and close() follows
    if (spool.send(write)) busy = spool.pending;
  }

  function scheduleRetry(): void {
    if (stopping) return;
    const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
    failures++;
    retry = setTimeout(connect, base * (0.75 + Math.random() / 2));
    // the agent's timers keep it running; at a failed start nothing here should
    retry.unref();
  }

  /** An attempt failed or the connection was lost: said once per outage and reason, then retried. */
  function away(what: string): void {
    if (stopping) return;
    if (downSince === 0) downSince = Date.now();
    if (what !== lastSaid) {
      lastSaid = what;
      say(`${what}; records are spooled (up to ${spoolMiB} MiB) and sent once it is back`);
    }
    scheduleRetry();
  }

  /** An attempt that has not become a connection yet (TCP connect or TLS handshake) ended. */
  function attemptFailed(what: string): void {
    if (!connecting) return;
    connecting = false;
    away(what);
  }

  function connected(s: Socket): void {
    connecting = false;
    socket = s;
    up = true;
    busy = false;
    upSince = Date.now();
    connections++;
    s.setKeepAlive(true, KEEPALIVE_MS);
    s.unref();
    if (downSince !== 0) {
      const again =
        toResend.records > 0 ? `; sending the last ${toResend.records} records again (${Math.ceil(toResend.bytes / 1024)} KiB)` : "";
      say(`connected after ${((Date.now() - downSince) / 1000).toFixed(1)} s${again}`);
    }
    resent += toResend.records;
    toResend = { bytes: 0, records: 0 };
    downSince = 0;
    lastSaid = "";
    fullSaid = false;
    pump();
  }

  function closed(s: Socket, e: unknown): void {
    if (!up || s !== socket) {
      attemptFailed(tls ? `connection closed before the TLS handshake${e ? ` (${reason(e)})` : ""}` : `cannot connect (${reason(e)})`);
      return;
    }
    socket = undefined;
    up = false;
    busy = false;
    if (Date.now() - upSince >= STABLE_MS) failures = 0;
    const r = spool.rewind();
    toResend = { bytes: toResend.bytes + r.bytes, records: toResend.records + r.records };
    away(`connection lost${e ? ` (${reason(e)})` : ""}`);
  }

  const handlers: TCPSocketConnectOptions<undefined>["socket"] = {
    open(s) {
      if (!tls) connected(s);
    },
    handshake(s, ok, e) {
      if (ok) connected(s);
      else attemptFailed(`TLS handshake failed (${e?.message ?? "refused"})`);
    },
    data() {
      // a relay sends nothing back on this protocol
    },
    drain(s) {
      if (s !== socket) return;
      busy = false;
      pump();
    },
    close(s, e) {
      closed(s, e);
    },
    error(s, e) {
      closed(s, e);
    },
    connectError(_s, e) {
      attemptFailed(`cannot connect (${reason(e)})`);
    },
  };

  function connect(): void {
    retry = undefined;
    if (stopping) return;
    connecting = true;
    Bun.connect({ hostname: config.host, port: config.port, tls, socket: handlers }).then(
      (s) => {
        if (stopping) s.end();
      },
      (e: unknown) => attemptFailed(`cannot connect (${reason(e)})`),
    );
  }

  connect();

  return {
    line(bytes: Uint8Array, start: number, end: number): void {
      if (headerStale) {
        headerStale = false;
        const now = Date.now();
        if (now !== headerMs) refreshHeader(now);
      }
      const msg = header.length + end - start;
      let digits = 1;
      for (let n = msg; n >= 10; n = Math.floor(n / 10)) digits++;
      const frame = digits + 1 + msg;
      const c = spool.reserve(frame);
      if (!c) {
        if (!fullSaid) {
          fullSaid = true;
          say(`spool full (${spoolMiB} MiB); records are dropped until the relay takes them (counted)`);
        }
        return;
      }
      const b = c.buf;
      let p = c.len + digits;
      for (let n = msg, i = p - 1; i >= c.len; i--, n = Math.floor(n / 10)) b[i] = 48 + (n % 10);
      b[p++] = 32;
      copyBytes(header, 0, header.length, b, p);
      p += header.length;
      copyBytes(bytes, start, end, b, p);
      spool.commit(c, frame);
    },
    flush(): void {
      headerStale = true;
      pump();
    },
    async close(waitMs: number): Promise<void> {
      stopping = true;
      clearTimeout(retry);
      const deadline = Date.now() + waitMs;
      pump();
      while (up && spool.pending && Date.now() < deadline) {
        await Bun.sleep(10);
        pump();
      }
      droppedAtStop = spool.neverSent();
      // what the kernel took is sent after a FIN; what it did not, is counted above
      socket?.end();
      socket = undefined;
      up = false;
    },
    status(): OutputStatus {
      return {
        output: "syslog",
        target: config.url,
        up,
        records: spool.taken,
        dropped: spool.dropped + droppedAtStop,
        queuedBytes: spool.bytes,
        connections,
        resent,
      };
    },
  };
}
