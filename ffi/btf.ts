/** Questions about the running kernel's BTF, answered through libbpf. */
import { ptr } from "bun:ffi";
import type { Libbpf } from "./libbpf.ts";

const BTF_KIND_TYPEDEF = 8;

/**
 * Names of the raw tracepoints among names that the running kernel has (a tracepoint
 * foo exists when its BTF has the typedef btf_trace_foo).
 */
export function kernelTracepoints(lib: Libbpf, names: readonly string[]): Set<string> {
  const found = new Set<string>();
  const btf = lib.btf__load_vmlinux_btf();
  if (!btf) return found;
  try {
    for (const name of names) {
      if (lib.btf__find_by_name_kind(btf, ptr(Buffer.from(`btf_trace_${name}\0`)), BTF_KIND_TYPEDEF) > 0) {
        found.add(name);
      }
    }
  } finally {
    lib.btf__free(btf);
  }
  return found;
}
