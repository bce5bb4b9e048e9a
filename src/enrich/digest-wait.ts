/**
 * -c: a record of an executable file is printed once its file is hashed, off the record
 * path. Bounded: beyond MAX_WAITING records, and at stop after a grace period, records
 * go out with empty digests, counted as missing.
 */
import type { Digests } from "./checksums.ts";
import type { FileRecord } from "../records/file.ts";
import type { Checksums } from "./checksums.ts";

/** most file records waiting for their checksums */
const MAX_WAITING = 256;
const NO_DIGESTS: Digests = { md5: "", sha256: "" };

export class DigestWait {
  private readonly waiting = new Set<FileRecord>();
  private closed = false;
  /** records printed with empty digests: refused, failed, or not waited for */
  missing = 0;

  constructor(
    private readonly checksums: Checksums,
    /** prints a record (and flushes, when called back later) */
    private readonly print: (rec: FileRecord, digests: Digests, later: boolean) => void,
  ) {}

  /** Prints rec now if its file version is hashed already, else once it is. */
  add(rec: FileRecord): void {
    const known = this.checksums.get(rec);
    if (known) {
      this.print(rec, known, false);
      return;
    }
    if (this.waiting.size >= MAX_WAITING) {
      this.missing++;
      this.print(rec, NO_DIGESTS, false);
      return;
    }
    this.waiting.add(rec);
    void this.checksums.compute(rec).then((digests) => {
      if (this.closed || !this.waiting.delete(rec)) return;
      if (!digests) this.missing++;
      this.print(rec, digests ?? NO_DIGESTS, true);
    });
  }

  /** At stop: waits up to graceMs for the hashes in flight, then prints the rest without. */
  async finish(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.waiting.size > 0 && Date.now() < deadline) await Bun.sleep(10);
    this.closed = true;
    for (const rec of this.waiting) {
      this.missing++;
      this.print(rec, NO_DIGESTS, false);
    }
    this.waiting.clear();
  }
}
