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

/** Everything checked before the agent touches libbpf; returns the kernel's "major.minor". */
export function preflight(euid: number, release: string): string {
  requireRoot(euid);
  const version = requireKernel(release);
  requireBtf();
  return version;
}

/** The oldest kernel kflowd supports: BTF-enabled tp_btf, ring buffer, cgroup hooks. */
export const KERNEL_MIN: readonly [number, number] = [5, 10];

/** Whether the kernel release ("6.1.0-18-amd64") is at least major.minor. */
export function releaseAtLeast(release: string, [major, minor]: readonly [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

/** Refuses a kernel release older than KERNEL_MIN; returns its "major.minor". */
export function requireKernel(release: string): string {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new SetupError(`cannot read the kernel version from '${release}'`);
  if (!releaseAtLeast(release, KERNEL_MIN)) {
    throw new SetupError(`Linux ${release} is too old: kflowd needs ${KERNEL_MIN.join(".")} or newer`);
  }
  return `${m[1]}.${m[2]}`;
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
