/** Questions about the running kernel's BTF, answered through libbpf. */
import { ptr, read } from "bun:ffi";
import type { Libbpf } from "./libbpf.ts";

const BTF_KIND_TYPEDEF = 8;

/**
 * The raw tracepoints among names that the running kernel has, each with the id of its
 * BTF typedef btf_trace_<name> (a tracepoint exists when that typedef does; tp_btf
 * programs attach by that id).
 */
export function tracepointTypeIds(lib: Libbpf, names: readonly string[]): Map<string, number> {
  const found = new Map<string, number>();
  const btf = lib.btf__load_vmlinux_btf();
  if (!btf) return found;
  try {
    for (const name of names) {
      const id = lib.btf__find_by_name_kind(btf, ptr(Buffer.from(`btf_trace_${name}\0`)), BTF_KIND_TYPEDEF);
      if (id > 0) found.set(name, id);
    }
  } finally {
    lib.btf__free(btf);
  }
  return found;
}

/** Names of the raw tracepoints among names that the running kernel has. */
export function kernelTracepoints(lib: Libbpf, names: readonly string[]): Set<string> {
  return new Set(tracepointTypeIds(lib, names).keys());
}

/** BTF kinds (include/uapi/linux/btf.h) that the argument probe tells apart or looks through. */
const BTF_KIND_PTR = 2;
const BTF_KIND_VOLATILE = 9;
const BTF_KIND_CONST = 10;
const BTF_KIND_RESTRICT = 11;
const BTF_KIND_FUNC_PROTO = 13;
const BTF_KIND_TYPE_TAG = 18;
const SEE_THROUGH = new Set([BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST, BTF_KIND_RESTRICT, BTF_KIND_TYPE_TAG]);

/** What a raw tracepoint's argument is, as far as choosing a program goes. */
export type TracepointArg = "pointer" | "other";

/**
 * Per raw tracepoint of names that the running kernel has, its arguments (those a tp_btf
 * program sees, without the leading __data). Tracepoints whose arguments changed between
 * kernels get one program per layout.
 */
export function tracepointArgs(lib: Libbpf, names: readonly string[]): Map<string, TracepointArg[]> {
  const found = new Map<string, TracepointArg[]>();
  const btf = lib.btf__load_vmlinux_btf();
  if (!btf) return found;
  try {
    for (const name of names) {
      const args = protoArgs(lib, btf, name);
      if (args) found.set(name, args);
    }
  } finally {
    lib.btf__free(btf);
  }
  return found;
}

function protoArgs(lib: Libbpf, btf: NonNullable<ReturnType<Libbpf["btf__load_vmlinux_btf"]>>, name: string): TracepointArg[] | undefined {
  const id = lib.btf__find_by_name_kind(btf, ptr(Buffer.from(`btf_trace_${name}\0`)), BTF_KIND_TYPEDEF);
  if (id <= 0) return undefined;
  // struct btf_type { u32 name_off; u32 info (kind in bits 24..28, vlen in 0..15); u32 size_or_type }
  const type = (tid: number) => lib.btf__type_by_id(btf, tid);
  const kindOf = (p: NonNullable<ReturnType<typeof type>>) => (read.u32(p, 4) >>> 24) & 0x1f;
  /** the type tid refers to, past typedefs and qualifiers */
  const resolve = (tid: number) => {
    for (let i = 0; i < 32 && tid !== 0; i++) {
      const p = type(tid);
      if (!p || !SEE_THROUGH.has(kindOf(p))) return p;
      tid = read.u32(p, 8);
    }
    return null;
  };
  const fnPtr = resolve(id);
  if (!fnPtr || kindOf(fnPtr) !== BTF_KIND_PTR) return undefined;
  const proto = resolve(read.u32(fnPtr, 8));
  if (!proto || kindOf(proto) !== BTF_KIND_FUNC_PROTO) return undefined;
  const vlen = read.u32(proto, 4) & 0xffff;
  const args: TracepointArg[] = [];
  // struct btf_param { u32 name_off; u32 type } after the 12-byte btf_type; [0] is __data
  for (let i = 1; i < vlen; i++) {
    const t = resolve(read.u32(proto, 12 + i * 8 + 4));
    args.push(t && kindOf(t) === BTF_KIND_PTR ? "pointer" : "other");
  }
  return args;
}
