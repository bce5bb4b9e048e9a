/**
 * Drains the kernel ring buffer in batches: one FFI call moves as many records as fit
 * into a JS-owned buffer, framed as [u32 size][u32 0][record], 8-byte aligned.
 */
import type { RingHandle } from "../../ffi/bpf.ts";

export type RecordVisitor = (view: DataView, bytes: Uint8Array, off: number, size: number) => void;

const FRAME_HDR = 8;

export class RingReader {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  /** records the shim could not copy (larger than the largest record type) */
  lost = 0;
  /** the last drain stopped because more() said so, with records left in the ring */
  stoppedEarly = false;
  /** bytes that were in the ring when the last drain began */
  fillAtDrain = 0;

  constructor(
    private readonly ring: RingHandle,
    batchBytes: number,
  ) {
    this.buf = new Uint8Array(batchBytes);
    this.view = new DataView(this.buf.buffer);
  }

  /**
   * Hands pending records to visit, batch after batch, until the ring is empty or
   * more() says to stop between batches; returns the number of records.
   */
  drain(visit: RecordVisitor, more: () => boolean = () => true): number {
    let total = 0;
    for (let first = true; ; first = false) {
      const r = this.ring.drain(this.buf);
      if (first) this.fillAtDrain = Number(r[4]);
      const used = Number(r[0]);
      total += Number(r[1]);
      this.lost = Number(r[3]);
      let off = 0;
      while (off + FRAME_HDR <= used) {
        const size = this.view.getUint32(off, true);
        visit(this.view, this.buf, off + FRAME_HDR, size);
        off += (FRAME_HDR + size + 7) & ~7;
      }
      this.stoppedEarly = false;
      if (r[2] === 0n) return total;
      if (!more()) {
        this.stoppedEarly = true;
        return total;
      }
    }
  }

  /** Bytes in the ring now, not drained yet. */
  fill(): number {
    return this.ring.fill();
  }

  close(): void {
    this.ring.close();
  }
}
