import { RecHdr, RecLimits } from "./layout.gen.ts";

/**
 * Type code of the record at off (enum rec_type); 0 if it is too short for a header or
 * its header's version is not this layout's (REC_VERSION): a record nothing here decodes.
 */
export function recordType(view: DataView, off: number, size: number): number {
  if (size < RecHdr.SIZE || view.getUint16(off + RecHdr.version, true) !== RecLimits.REC_VERSION) return 0;
  return view.getUint16(off + RecHdr.type, true);
}
