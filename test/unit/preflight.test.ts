import { expect, test } from "bun:test";
import { SetupError } from "../../ffi/errors.ts";
import { loadLibbpf } from "../../ffi/libbpf.ts";
import { requireBtf, requireRoot } from "../../src/preflight.ts";

test("not root: a clear refusal", () => {
  expect(() => requireRoot(1000)).toThrow(new SetupError("must run as root (it loads eBPF programs): try 'sudo kflowd'"));
  expect(() => requireRoot(0)).not.toThrow();
});

test("no BTF: says what the kernel lacks", () => {
  expect(() => requireBtf("/nonexistent/vmlinux")).toThrow(/no BTF type information .*CONFIG_DEBUG_INFO_BTF=y/);
});

test("libbpf missing: names the library and the package", () => {
  expect(() => loadLibbpf("libbpf-missing.so.9")).toThrow(/cannot load libbpf-missing\.so\.9 .*install libbpf 1\.0 or newer/);
});

test("a library that is not libbpf 1.x is refused", () => {
  expect(() => loadLibbpf("libz.so.1")).toThrow(SetupError);
});

test("the system libbpf is accepted and reports its version", () => {
  expect(loadLibbpf().version).toMatch(/^\d+\.\d+/);
});
