import { RecHdr } from "./layout.gen.ts";

/** Type code of the record at off (enum rec_type), or 0 if it is too short for a header. */
export function recordType(view: DataView, off: number, size: number): number {
  return size < RecHdr.SIZE ? 0 : view.getUint16(off + RecHdr.type, true);
}
