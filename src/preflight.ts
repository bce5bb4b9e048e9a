/** Checks that must pass before anything is loaded; each failure is one SetupError line. */
import { existsSync, readFileSync } from "node:fs";
import { SetupError } from "../ffi/errors.ts";

export function requireRoot(euid: number): void {
  if (euid !== 0) {
    throw new SetupError("must run as root (it loads eBPF programs): try 'sudo kflowd'");
  }
}

export const KERNEL_BTF = "/sys/kernel/btf/vmlinux";

export function requireBtf(path = KERNEL_BTF): void {
  if (!existsSync(path)) {
    throw new SetupError(
      `the kernel has no BTF type information (${path} is missing); kflowd needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, 5.10 or newer`,
    );
  }
}

/** Capability numbers (linux/capability.h). */
const CAP = { DAC_READ_SEARCH: 2, NET_ADMIN: 12, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;

/** The effective capabilities of this process (CapEff of /proc/self/status). */
export function effectiveCapabilities(status = readFileSync("/proc/self/status", "utf8")): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

/**
 * Root without the capabilities BPF needs (a container, a bounding set) fails with a
 * misleading libbpf message; this names what is missing instead.
 */
export function requireCapabilities(caps: bigint, sockets: boolean): void {
  const has = (cap: number) => (caps & (1n << BigInt(cap))) !== 0n;
  if (!has(CAP.SYS_ADMIN)) {
    const missing = [has(CAP.BPF) ? "" : "CAP_BPF", has(CAP.PERFMON) ? "" : "CAP_PERFMON"].filter(Boolean);
    if (missing.length > 0) {
      throw new SetupError(
        `missing capability ${missing.join(" and ")}: loading the BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)`,
      );
    }
    if (sockets && !has(CAP.NET_ADMIN)) {
      throw new SetupError("missing capability CAP_NET_ADMIN: socket monitoring needs it (or use -m file)");
    }
  }
}

/** What preflight checks. */
export interface Host {
  readonly euid: number;
  /** kernel release, as uname -r */
  readonly release: string;
  /** effective capabilities */
  readonly caps: bigint;
  /** whether sockets are to be monitored */
  readonly sockets: boolean;
}

/** Everything checked before the agent touches libbpf; returns the kernel's "major.minor". */
export function preflight(host: Host): string {
  requireRoot(host.euid);
  requireCapabilities(host.caps, host.sockets);
  const version = requireKernel(host.release);
  requireBtf();
  return version;
}

/** The oldest kernel kflowd supports: BTF-enabled tp_btf, ring buffer, cgroup hooks. */
export const KERNEL_MIN: readonly [number, number] = [5, 10];

/** A kernel release's major and minor ("6.1.0-18-amd64" -> [6, 1]), or undefined. */
function releaseVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether the kernel release ("6.1.0-18-amd64") is at least major.minor. */
export function releaseAtLeast(release: string, [major, minor]: readonly [number, number]): boolean {
  const v = releaseVersion(release);
  return v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));
}

/** Refuses a kernel release older than KERNEL_MIN; returns its "major.minor". */
export function requireKernel(release: string): string {
  const v = releaseVersion(release);
  if (!v) throw new SetupError(`cannot read the kernel version from '${release}'`);
  if (!releaseAtLeast(release, KERNEL_MIN)) {
    throw new SetupError(`Linux ${release} is too old: kflowd needs ${KERNEL_MIN.join(".")} or newer`);
  }
  return v.join(".");
}

/**
 * The BPF JIT compiler's state from net.core.bpf_jit_enable: programs run interpreted,
 * several times slower, when it is off. Never fatal: kernels built with
 * CONFIG_BPF_JIT_ALWAYS_ON have no interpreter and report 1.
 */
export function jitState(path = "/proc/sys/net/core/bpf_jit_enable"): "on" | "on, with debug output" | "off" | "unknown" {
  try {
    const value = readFileSync(path, "utf8").trim();
    return value === "1" ? "on" : value === "2" ? "on, with debug output" : value === "0" ? "off" : "unknown";
  } catch {
    return "unknown";
  }
}
