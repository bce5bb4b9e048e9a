/**
 * Decoded records to text and to the sinks: one-line or indented JSON to stdout, or the
 * table there; the collectors get what stdout shows as JSON (one-line JSON with the
 * table), and the line outputs (syslog relay, NDJSON file) one-line JSON whatever -o
 * says. Each record printed takes the next sequence number and the processing time.
 * A record's one-line JSON is formatted once, as bytes: straight into stdout's buffer when
 * only stdout wants it, else into a scratch buffer whose bytes every line output copies
 * (and which becomes a string only for pretty JSON and the collectors).
 */
import type { Digests } from "../enrich/checksums.ts";
import type { AppMessage } from "../records/app.ts";
import type { FileRecord } from "../records/file.ts";
import type { SockRecord } from "../records/sock.ts";
import type { OutputFormat } from "../config.ts";
import { type FormatContext, fileBytes } from "../format/file-json.ts";
import { type JsonBytes, text, textStart } from "../format/json-bytes.ts";
import { pretty } from "../format/pretty.ts";
import { sockBytes } from "../format/sock-json.ts";
import { TableFormat } from "../format/table.ts";
import type { LineOutput } from "./line-output.ts";
import type { Sink } from "./stdout.ts";
import type { UdpSink } from "./udp.ts";

export interface PrinterOptions {
  readonly output: OutputFormat;
  /** --rs: a line holding an ASCII RS after each JSON record on stdout (json always has it) */
  readonly rs?: boolean;
  /** terminal columns the table is fitted to (-o table) */
  readonly width: number;
  /** false with -q and in daemon mode */
  readonly toStdout: boolean;
  readonly stdout: Sink;
  readonly collectors: UdpSink | undefined;
  /** outputs that take every record as one line of JSON */
  readonly lines: readonly LineOutput[];
}

export class RecordPrinter {
  private readonly ctx: { -readonly [K in keyof FormatContext]: FormatContext[K] };
  private readonly monoStart = process.hrtime.bigint();
  private readonly wallStart = BigInt(Date.now()) * 1_000_000n;
  private readonly indented: boolean;
  /** what ends a record on stdout: a newline, or kflowd's newline, RS, newline */
  private readonly rs: boolean;
  private readonly table: TableFormat | undefined;
  /** JSON is made when stdout shows it or another output wants it */
  private readonly json: boolean;
  /** one-line JSON for stdout alone: formatted into its buffer (the same bytes as the string) */
  private readonly direct: boolean;
  /** the record's JSON is wanted as a string: pretty JSON, the collectors */
  private readonly asText: boolean;
  private readonly lines: readonly LineOutput[];
  /** file and socket records printed */
  files = 0;
  socks = 0;

  constructor(
    context: Omit<FormatContext, "seq" | "nowNs" | "uptimeNs">,
    private readonly opts: PrinterOptions,
  ) {
    this.ctx = { ...context, seq: 0, nowNs: 0n, uptimeNs: 0n };
    this.indented = opts.output === "json";
    this.rs = this.indented || opts.rs === true;
    this.table = opts.output === "table" ? new TableFormat(opts.width) : undefined;
    this.lines = opts.lines;
    this.json = !this.table || opts.collectors !== undefined || this.lines.length > 0;
    this.direct = opts.output === "json-min" && opts.toStdout && opts.collectors === undefined && this.lines.length === 0;
    this.asText = opts.collectors !== undefined || (this.indented && opts.toStdout);
  }

  /** Records printed so far (the last sequence number). */
  get printed(): number {
    return this.ctx.seq;
  }

  /** The table's header, once at start (nothing for JSON). */
  header(): void {
    if (this.table && this.opts.toStdout) this.opts.stdout.write(`${this.table.header()}\n`);
  }

  /** digests: -c on and the file executable (undefined: no checksum keys). */
  file(rec: FileRecord, digests: Digests | undefined): void {
    const c = this.next();
    this.files++;
    if (this.table && this.opts.toStdout) this.opts.stdout.write(`${this.table.file(rec, c)}\n`);
    if (this.direct) {
      const out = this.opts.stdout.begin();
      fileBytes(out, rec, c, digests);
      this.end(out);
    } else if (this.json) {
      const out = textStart();
      fileBytes(out, rec, c, digests);
      this.emit(out);
    }
  }

  sock(rec: SockRecord, messages: AppMessage[] | undefined): void {
    const c = this.next();
    this.socks++;
    if (this.table && this.opts.toStdout) this.opts.stdout.write(`${this.table.sock(rec, c, messages ?? [])}\n`);
    if (this.direct) {
      const out = this.opts.stdout.begin();
      sockBytes(out, rec, c, messages);
      this.end(out);
    } else if (this.json) {
      const out = textStart();
      sockBytes(out, rec, c, messages);
      this.emit(out);
    }
  }

  /** Ends a record formatted into stdout's buffer. */
  private end(out: { byte(b: number): void }): void {
    out.byte(10);
    if (this.rs) {
      out.byte(0x1e);
      out.byte(10);
    }
    this.opts.stdout.end();
  }

  /** Stamps the per-record Info values. */
  private next(): FormatContext {
    const ctx = this.ctx;
    ctx.seq++;
    ctx.uptimeNs = process.hrtime.bigint() - this.monoStart;
    ctx.nowNs = this.wallStart + ctx.uptimeNs;
    return ctx;
  }

  /**
   * One record's one-line JSON (formatted into out) to the line outputs, to stdout (unless
   * the table is shown) and to the collectors, as pretty JSON where -o json says so.
   */
  private emit(out: JsonBytes): void {
    const n = out.pos;
    for (const o of this.lines) o.line(out.buf, 0, n);
    if (this.opts.toStdout && !this.table && !this.indented) {
      const s = this.opts.stdout.begin();
      s.copy(out.buf, 0, n);
      this.end(s);
    }
    if (!this.asText) return;
    const line = text(out);
    const shown = this.indented ? pretty(line) : line;
    if (this.opts.toStdout && this.indented) this.opts.stdout.write(`${shown}\n\x1e\n`);
    this.opts.collectors?.send(shown);
  }
}
