import { u64Big } from "./bytes.ts";
import { RecApp, RecHdr } from "./layout.gen.ts";

/** The captured start of one application message. */
export interface AppMessage {
  /** key of the socket's record */
  readonly sockKey: bigint;
  readonly pid: number;
  readonly tsNs: bigint;
  /** bytes of the whole message */
  readonly len: number;
  readonly rx: boolean;
  /** enum app_kind */
  readonly app: number;
  /** the captured bytes (a copy) */
  readonly data: Uint8Array;
}

export function decodeApp(view: DataView, bytes: Uint8Array, off: number, size: number): AppMessage | undefined {
  if (size < RecApp.data) return undefined;
  const cap = view.getUint16(off + RecApp.capLen, true);
  if (RecApp.data + cap > size) return undefined;
  return {
    sockKey: u64Big(view, off + RecApp.sockKey),
    pid: view.getUint32(off + RecApp.pid, true),
    tsNs: u64Big(view, off + RecHdr.tsNs),
    len: view.getUint32(off + RecApp.len, true),
    rx: view.getUint8(off + RecApp.rx) !== 0,
    app: view.getUint8(off + RecApp.app),
    data: bytes.slice(off + RecApp.data, off + RecApp.data + cap),
  };
}
