/** Questions about the running kernel's BPF instruction set, answered by loading a tiny program. */
import { closeSync } from "node:fs";
import { ptr } from "bun:ffi";
import type { Libbpf } from "./libbpf.ts";

const BPF_PROG_TYPE_SOCKET_FILTER = 1;

/** One instruction (struct bpf_insn): opcode, dst/src registers, offset, immediate. */
function insn(code: number, dst: number, src: number, off: number, imm: number): number[] {
  return [code, (src << 4) | dst, off & 0xff, (off >> 8) & 0xff, imm & 0xff, (imm >> 8) & 0xff, (imm >> 16) & 0xff, (imm >>> 24) & 0xff];
}

/*
 * r0 = 0; *(u64 *)(r10 - 8) = r0; r1 = 0;
 * r0 = cmpxchg((u64 *)(r10 - 8), r0, r1)  (BPF_STX | BPF_ATOMIC | BPF_DW, imm BPF_CMPXCHG)
 * r0 = 0; exit
 */
const CMPXCHG_PROGRAM = new Uint8Array([
  ...insn(0xb7, 0, 0, 0, 0),
  ...insn(0x7b, 10, 0, -8, 0),
  ...insn(0xb7, 1, 0, 0, 0),
  ...insn(0xdb, 10, 1, -8, 0xf1),
  ...insn(0xb7, 0, 0, 0, 0),
  ...insn(0x95, 0, 0, 0, 0),
]);

/**
 * Whether the verifier takes BPF atomic compare-and-exchange (5.12+, commit 5ffa25502b5a
 * "bpf: Add instructions for atomic_[cmp]xchg"), which scratch.bpf.h claims slots with.
 */
export function kernelHasCmpxchg(lib: Libbpf): boolean {
  const fd = lib.bpf_prog_load(
    BPF_PROG_TYPE_SOCKET_FILTER,
    null,
    ptr(Buffer.from("GPL\0")),
    ptr(CMPXCHG_PROGRAM),
    CMPXCHG_PROGRAM.length / 8,
    null,
  );
  if (fd < 0) return false;
  closeSync(fd);
  return true;
}
