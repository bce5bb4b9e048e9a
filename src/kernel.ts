/** Opens, configures, loads and attaches the kernel side. */
import { BpfObject } from "../ffi/bpf.ts";
import type { Libbpf } from "../ffi/libbpf.ts";
import type { Shim } from "../ffi/shim.ts";
import { KfConfig } from "./records/layout.gen.ts";

export interface KernelOptions {
  /** the agent's own tgid, never reported */
  readonly agentPid: number;
  /** ring buffer size in bytes (a power of two, multiple of the page size) */
  readonly ringBytes: number;
  /** most file aggregations open at once */
  readonly fileEntries: number;
}

export interface KernelSession {
  readonly object: BpfObject;
  /** names of the programs attached */
  readonly programs: readonly string[];
}

function configBytes(opts: KernelOptions): Uint8Array {
  const bytes = new Uint8Array(KfConfig.SIZE);
  new DataView(bytes.buffer).setUint32(KfConfig.agentPid, opts.agentPid, true);
  return bytes;
}

export function startKernel(lib: Libbpf, shim: Shim, objectBytes: Uint8Array, opts: KernelOptions): KernelSession {
  const object = BpfObject.open(lib, shim, objectBytes);
  try {
    object.setReadOnlyData(configBytes(opts));
    object.setMaxEntries("ring", opts.ringBytes);
    object.setMaxEntries("files", opts.fileEntries);
    object.load();
    const programs = object.attachAll().map((a) => a.program);
    return { object, programs };
  } catch (e) {
    object.close();
    throw e;
  }
}
