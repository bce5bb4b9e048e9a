// A program the verifier rejects: the error names the program and the reason, and the
// verifier's log is available for -V.
import { $ } from "bun";
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { BpfObject } from "../../ffi/bpf.ts";
import { BpfError } from "../../ffi/errors.ts";
import { loadLibbpf } from "../../ffi/libbpf.ts";
import { loadShim } from "../../ffi/shim.ts";
import { ROOT, SHIM } from "../helpers/paths.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";

const skip = skipWithoutKernel("BPF load-failure test");

test.skipIf(skip)("a verifier rejection names the program, the reason and keeps the log", async () => {
  const dir = mkdtempSync(`${tmpdir()}/kflowd-bad-`);
  const multiarch = (await $`gcc -print-multiarch`.text()).trim();
  const clang = Bun.which("clang-16") ?? "clang";
  await $`${clang} -g -O2 -target bpf -I/usr/include/${multiarch} -c ${ROOT}test/fixtures/rejected.bpf.c -o ${dir}/rejected.o`;
  const { lib } = loadLibbpf();
  const shim = await loadShim(SHIM);
  shim.kf_log_init(0);
  const obj = BpfObject.open(lib, shim, await Bun.file(`${dir}/rejected.o`).bytes());
  let error: unknown;
  try {
    obj.load();
  } catch (e) {
    error = e;
  } finally {
    obj.close();
  }
  expect(error).toBeInstanceOf(BpfError);
  const e = error as BpfError;
  expect(e.errno).toBe(13);
  expect(e.message).toMatch(/^loading the BPF programs failed: prog 'reads_past_value': .*load failed/);
  expect(BpfObject.log(shim)).toContain("invalid access to map value");
});
