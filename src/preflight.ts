/** Checks that must pass before anything is loaded; each failure is one SetupError line. */
import { existsSync } from "node:fs";
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

/** Everything checked before the agent touches libbpf. */
export function preflight(euid: number): void {
  requireRoot(euid);
  requireBtf();
}
