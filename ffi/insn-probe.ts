/** Questions about the running kernel's BPF instruction set, answered by loading a tiny program. */
import { closeSync } from "node:fs";
import { ptr } from "bun:ffi";
import { tracepointTypeIds } from "./btf.ts";
import type { Libbpf } from "./libbpf.ts";

/** One instruction (struct bpf_insn): opcode, dst/src registers, offset, immediate. */
function insn(code: number, dst: number, src: number, off: number, imm: number): number[] {
  return [code, (src << 4) | dst, off & 0xff, (off >> 8) & 0xff, imm & 0xff, (imm >> 8) & 0xff, (imm >> 16) & 0xff, (imm >>> 24) & 0xff];
}

/**
 * Whether the verifier takes program (instructions) as a program of type with the given
 * expected attach type and, for tracing programs, the BTF id it attaches to.
 */
function verifierTakes(lib: Libbpf, type: number, program: Uint8Array, attachType: number, attachBtfId = 0): boolean {
  // struct bpf_prog_load_opts up to attach_btf_obj_fd: sz, attempts, expected_attach_type at 12, attach_btf_id at 32
  const opts = new Uint8Array(64);
  const view = new DataView(opts.buffer);
  view.setBigUint64(0, 44n, true);
  view.setUint32(12, attachType, true);
  view.setUint32(32, attachBtfId, true);
  const fd = lib.bpf_prog_load(type, null, ptr(Buffer.from("GPL\0")), ptr(program), program.length / 8, ptr(opts));
  if (fd < 0) return false;
  closeSync(fd);
  return true;
}

const BPF_PROG_TYPE_TRACING = 26;
const BPF_TRACE_RAW_TP = 23;
const BPF_FUNC_get_socket_cookie = 46;

/*
 * tp_btf/inet_sock_set_state: r1 = ctx[0] (the struct sock *);
 * call bpf_get_socket_cookie; r0 = 0; exit
 */
const SOCKET_COOKIE_PROGRAM = new Uint8Array([
  ...insn(0x79, 1, 1, 0, 0),
  ...insn(0x85, 0, 0, 0, BPF_FUNC_get_socket_cookie),
  ...insn(0xb7, 0, 0, 0, 0),
  ...insn(0x95, 0, 0, 0, 0),
]);

/**
 * Whether a tp_btf program on inet_sock_set_state may call bpf_get_socket_cookie() on
 * the tracepoint's socket (tracing programs got it in 5.12, commit c5dbb89fc2ac "bpf:
 * Expose bpf_get_socket_cookie to tracing programs"; asked of the verifier, not the
 * release). The TCP state program then makes the cookie itself and sockops is not needed.
 */
export function kernelTracingSocketCookie(lib: Libbpf): boolean {
  const id = tracepointTypeIds(lib, ["inet_sock_set_state"]).get("inet_sock_set_state");
  return id !== undefined && verifierTakes(lib, BPF_PROG_TYPE_TRACING, SOCKET_COOKIE_PROGRAM, BPF_TRACE_RAW_TP, id);
}

const BPF_PROG_TYPE_CGROUP_SOCK = 9;
const BPF_CGROUP_INET_SOCK_CREATE = 2;
const BPF_FUNC_get_current_task_btf = 158;

/* cgroup/sock_create: call bpf_get_current_task_btf; r0 = 1; exit */
const TASK_BTF_PROGRAM = new Uint8Array([
  ...insn(0x85, 0, 0, 0, BPF_FUNC_get_current_task_btf),
  ...insn(0xb7, 0, 0, 0, 1),
  ...insn(0x95, 0, 0, 0, 0),
]);

/**
 * Whether cgroup socket programs may call bpf_get_current_task_btf() (the helper came
 * in 5.11 for tracing programs and reached every program type through the base helper
 * set later, ~6.10; asked of the verifier). Identities are then read by plain loads
 * through the task's BTF pointers, in these programs and the tracing ones alike.
 */
export function kernelCgroupTaskBtf(lib: Libbpf): boolean {
  return verifierTakes(lib, BPF_PROG_TYPE_CGROUP_SOCK, TASK_BTF_PROGRAM, BPF_CGROUP_INET_SOCK_CREATE);
}
