// Which program failed to load and why, from libbpf's log: the verifier's verdict, not
// its trace, or libbpf's own reason when the kernel never saw the program.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { loadFailure } from "../../ffi/bpf.ts";
import { ROOT } from "../helpers/paths.ts";

test("a verifier rejection: the program and the verifier's verdict (6.18.44's untrusted socket)", () => {
  // recorded from kflowd bc66d5f on Linux 6.18.44-fc-v1147 with -V
  const log = readFileSync(`${ROOT}test/fixtures/verifier-6.18.44-untrusted.log`, "utf8");
  expect(loadFailure(log)).toEqual({
    program: "iter_task_file__existing",
    reason: "R1 type=untrusted_ptr_ expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
  });
});

test("a hook the kernel lacks: libbpf's reason, not its generic follow-up lines", () => {
  // libbpf 1.1's lines for a tp_btf program whose tracepoint the kernel does not have
  const log = [
    "libbpf: prog 'inode_set_ctime_to_ts__path_op': failed to find kernel BTF type ID of 'inode_set_ctime_to_ts': -3",
    "libbpf: prog 'inode_set_ctime_to_ts__path_op': failed to prepare load attributes: -3",
    "libbpf: prog 'inode_set_ctime_to_ts__path_op': failed to load: -3",
    "libbpf: failed to load object 'kflowd_bpf'",
  ].join("\n");
  expect(loadFailure(log)).toEqual({
    program: "inode_set_ctime_to_ts__path_op",
    reason: "failed to find kernel BTF type ID of 'inode_set_ctime_to_ts': -3",
  });
});

test("a rejection without a verifier log keeps libbpf's line", () => {
  const log = "libbpf: prog 'x__y': BPF program load failed: Invalid argument\nlibbpf: prog 'x__y': failed to load: -22\n";
  expect(loadFailure(log)).toEqual({ program: "x__y", reason: "BPF program load failed: Invalid argument" });
});

test("a failure that names no program is not taken for one", () => {
  expect(
    loadFailure("libbpf: map 'ring': failed to create: Operation not permitted(-1)\nlibbpf: failed to load object 'o'\n"),
  ).toBeUndefined();
});
