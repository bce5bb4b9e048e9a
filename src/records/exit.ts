import { u64Big } from "./bytes.ts";
import { RecExit, RecHdr } from "./layout.gen.ts";

/** A process ended; its open file aggregations are to be flushed. */
export interface ExitNotice {
  readonly pid: number;
  readonly startNs: bigint;
  readonly tsNs: bigint;
}

export function decodeExit(view: DataView, off: number, size: number): ExitNotice | undefined {
  if (size < RecExit.SIZE) return undefined;
  return {
    pid: view.getUint32(off + RecExit.pid, true),
    startNs: u64Big(view, off + RecExit.startNs),
    tsNs: u64Big(view, off + RecExit.hdr + RecHdr.tsNs),
  };
}
