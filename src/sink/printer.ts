/**
 * Decoded records to text and to the sinks: one-line or indented JSON to stdout, or the
 * table there with one-line JSON for the collectors. Each record printed takes the next
 * sequence number and the processing time. One-line JSON that only stdout wants is
 * formatted straight into stdout's buffer as bytes, without making the record's string.
 */
import type { AppMessage } from "../records/app.ts";
import type { FileRecord } from "../records/file.ts";
import type { SockRecord } from "../records/sock.ts";
import type { OutputFormat } from "../config.ts";
import { type FileDigests, type FormatContext, fileBytes, fileJson } from "../format/file-json.ts";
import { pretty } from "../format/pretty.ts";
import { sockBytes, sockJson } from "../format/sock-json.ts";
import { TableFormat } from "../format/table.ts";
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
}

export class RecordPrinter {
  private readonly ctx: { -readonly [K in keyof FormatContext]: FormatContext[K] };
  private readonly monoStart = process.hrtime.bigint();
  private readonly wallStart = BigInt(Date.now()) * 1_000_000n;
  private readonly indented: boolean;
  /** what ends a record on stdout: a newline, or kflowd's newline, RS, newline */
  private readonly rs: boolean;
  private readonly table: TableFormat | undefined;
  /** JSON is made when stdout shows it or collectors want it */
  private readonly json: boolean;
  /** one-line JSON for stdout alone: formatted into its buffer (the same bytes as the string) */
  private readonly direct: boolean;

  constructor(
    context: Omit<FormatContext, "seq" | "nowNs" | "uptimeNs">,
    private readonly opts: PrinterOptions,
  ) {
    this.ctx = { ...context, seq: 0, nowNs: 0n, uptimeNs: 0n };
    this.indented = opts.output === "json";
    this.rs = this.indented || opts.rs === true;
    this.table = opts.output === "table" ? new TableFormat(opts.width) : undefined;
    this.json = !this.table || opts.collectors !== undefined;
    this.direct = opts.output === "json-min" && opts.toStdout && opts.collectors === undefined;
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
  file(rec: FileRecord, digests: FileDigests | undefined): void {
    const c = this.next();
    if (this.table && this.opts.toStdout) this.opts.stdout.write(`${this.table.file(rec, c)}\n`);
    if (this.direct) {
      const out = this.opts.stdout.begin();
      fileBytes(out, rec, c, digests);
      this.end(out);
    } else if (this.json) this.emit(fileJson(rec, c, digests));
  }

  sock(rec: SockRecord, messages: AppMessage[] | undefined): void {
    const c = this.next();
    if (this.table && this.opts.toStdout) this.opts.stdout.write(`${this.table.sock(rec, c, messages ?? [])}\n`);
    if (this.direct) {
      const out = this.opts.stdout.begin();
      sockBytes(out, rec, c, messages);
      this.end(out);
    } else if (this.json) this.emit(sockJson(rec, c, messages));
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

  /** One record's JSON to stdout (unless the table is shown) and to the collectors. */
  private emit(line: string): void {
    const text = this.indented ? pretty(line) : line;
    if (this.opts.toStdout && !this.table) this.opts.stdout.write(this.rs ? `${text}\n\x1e\n` : `${text}\n`);
    this.opts.collectors?.send(text);
  }
}
