/**
 * What every output of the agent reports about itself (for the metrics page and the
 * banner), and the one interface of outputs that take each record as one line of JSON
 * whatever -o says (the syslog relay, the NDJSON file): the printer formats a record once
 * and hands the same bytes to all of them.
 */

/** The state of one output, read when the metrics page is asked for. */
export interface OutputStatus {
  /** the kind: "stdout", "udp", "syslog", "file" */
  readonly output: string;
  /** where to: "-", "127.0.0.1:2056", "tls://relay:6514", "/var/log/kflowd/records.json" */
  readonly target: string;
  /**
   * whether it takes records now: stdout's reader is there, the relay connected, the
   * file writable (the last write succeeded)
   */
  readonly up: boolean;
  /** records it took (handed to the kernel, or spooled for the relay) */
  readonly records: number;
  /** records it lost, also counted in the stop summary's losses */
  readonly dropped: number;
  /** bytes waiting in the agent's memory for it */
  readonly queuedBytes: number;
  /** outputs over a connection (syslog): connections made */
  readonly connections?: number;
  /** outputs over a connection: records sent again after a lost connection */
  readonly resent?: number;
}

/** An output that takes every record as one line of JSON. */
export interface LineOutput {
  /**
   * One record: its one-line JSON in UTF-8 (no newline) at bytes[start, end). The bytes
   * belong to the caller and are reused after the call: copy what is kept. Never blocks
   * and never throws; what cannot be kept is counted as dropped.
   */
  line(bytes: Uint8Array, start: number, end: number): void;
  /** The end of a drained batch: hands what was taken to the writer, in one write. */
  flush(): void;
  /**
   * At stop: writes what is left, waiting at most waitMs, then closes; what could not be
   * written is counted as dropped.
   */
  close(waitMs: number): Promise<void>;
  status(): OutputStatus;
  /**
   * Whether the output is so far behind that records should wait in the kernel for now
   * (as for a slow stdout reader); false again after a while. Outputs that never push
   * back (the relay has its spool) leave it out.
   */
  holdBack?(): boolean;
}
