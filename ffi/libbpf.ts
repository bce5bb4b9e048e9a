/**
 * bun:ffi bindings to the system libbpf. Each symbol carries the version node of
 * libbpf's src/libbpf.map that introduced it; nothing here is newer than 1.0, and the
 * agent requires libbpf >= 1.0 for its error convention (negative errno returned).
 */
import { dlopen, FFIType } from "bun:ffi";
import { SetupError } from "./errors.ts";

const { ptr, i32, u32, u64, bool, cstring } = FFIType;

const SYMBOLS = {
  libbpf_major_version: { args: [], returns: u32 }, // LIBBPF_0.6.0
  libbpf_minor_version: { args: [], returns: u32 }, // LIBBPF_0.6.0
  libbpf_version_string: { args: [], returns: cstring }, // LIBBPF_0.6.0
  bpf_object__load: { args: [ptr], returns: i32 }, // LIBBPF_0.0.1
  bpf_object__close: { args: [ptr], returns: FFIType.void }, // LIBBPF_0.0.1
  bpf_object__find_map_by_name: { args: [ptr, ptr], returns: ptr }, // LIBBPF_0.0.1
  bpf_object__find_program_by_name: { args: [ptr, ptr], returns: ptr }, // LIBBPF_0.0.7
  bpf_program__set_autoload: { args: [ptr, bool], returns: i32 }, // LIBBPF_0.1.0
  bpf_program__set_type: { args: [ptr, u32], returns: i32 }, // LIBBPF_0.0.2
  bpf_program__fd: { args: [ptr], returns: i32 }, // LIBBPF_0.0.1
  bpf_map__fd: { args: [ptr], returns: i32 }, // LIBBPF_0.0.1
  bpf_map__set_max_entries: { args: [ptr, u32], returns: i32 }, // LIBBPF_0.1.0
  bpf_map__set_initial_value: { args: [ptr, ptr, u64], returns: i32 }, // LIBBPF_0.0.8
  bpf_map__initial_value: { args: [ptr, ptr], returns: ptr }, // LIBBPF_0.5.0
  bpf_link__destroy: { args: [ptr], returns: i32 }, // LIBBPF_0.0.4
  bpf_map_lookup_elem: { args: [i32, ptr, ptr], returns: i32 }, // LIBBPF_0.0.1
  bpf_map_delete_elem: { args: [i32, ptr], returns: i32 }, // LIBBPF_0.0.1
  bpf_map_lookup_and_delete_elem: { args: [i32, ptr, ptr], returns: i32 }, // LIBBPF_0.0.2
  bpf_map_get_next_key: { args: [i32, ptr, ptr], returns: i32 }, // LIBBPF_0.0.1
  bpf_map_update_elem: { args: [i32, ptr, ptr, u64], returns: i32 }, // LIBBPF_0.0.1
  libbpf_num_possible_cpus: { args: [], returns: i32 }, // LIBBPF_0.0.4
  bpf_prog_load: { args: [u32, ptr, ptr, ptr, u64, ptr], returns: i32 }, // LIBBPF_0.7.0
  btf__load_vmlinux_btf: { args: [], returns: ptr }, // LIBBPF_0.5.0
  btf__find_by_name_kind: { args: [ptr, ptr, u32], returns: i32 }, // LIBBPF_0.0.6
  btf__free: { args: [ptr], returns: FFIType.void }, // LIBBPF_0.0.1
  btf__type_by_id: { args: [ptr, u32], returns: ptr }, // LIBBPF_0.0.1
} as const;

export type Libbpf = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

/** Oldest libbpf whose API conventions the agent relies on. */
export const LIBBPF_MIN = { major: 1, minor: 0 } as const;

export interface LoadedLibbpf {
  readonly lib: Libbpf;
  readonly version: string;
}

/** Opens the system libbpf and checks its version; throws SetupError with the reason. */
export function loadLibbpf(name = "libbpf.so.1"): LoadedLibbpf {
  let lib: Libbpf;
  try {
    lib = dlopen(name, SYMBOLS).symbols;
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new SetupError(
      `cannot load ${name} (${why}); install libbpf ${LIBBPF_MIN.major}.${LIBBPF_MIN.minor} or newer (Debian/Ubuntu: libbpf1, RHEL/Fedora: libbpf)`,
    );
  }
  const major = lib.libbpf_major_version();
  const minor = lib.libbpf_minor_version();
  const version = String(lib.libbpf_version_string()).replace(/^v/, "");
  if (major < LIBBPF_MIN.major || (major === LIBBPF_MIN.major && minor < LIBBPF_MIN.minor)) {
    throw new SetupError(`${name} is libbpf ${version}; kflowd needs ${LIBBPF_MIN.major}.${LIBBPF_MIN.minor} or newer`);
  }
  return { lib, version };
}
