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

/** Which hooks serve a feature on this kernel. */
export interface FeatureTier {
  readonly feature: string;
  /** the set of hooks chosen, e.g. "syscall-tracepoints" */
  readonly tier: string;
  readonly programs: readonly string[];
}

/**
 * The hook sets per feature, best first. A feature's tier is the first whose programs
 * all attached. There is one tier per feature so far: the universal one, which needs
 * neither kprobes nor fentry.
 */
const TIERS: readonly { feature: string; tier: string; programs: readonly string[] }[] = [
  {
    feature: "file",
    tier: "syscall-tracepoints",
    programs: [
      "sys_enter__file_release",
      "sys_exit__file_event",
      "sched_process_exec__open_exec",
      "sched_process_exit__flush",
    ],
  },
];

export interface KernelSession {
  readonly object: BpfObject;
  /** names of the programs attached */
  readonly programs: readonly string[];
  readonly features: readonly FeatureTier[];
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
    const features = TIERS.filter((t) => t.programs.every((p) => programs.includes(p)));
    return { object, programs, features };
  } catch (e) {
    object.close();
    throw e;
  }
}
