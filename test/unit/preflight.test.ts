import { expect, test } from "bun:test";
import { SetupError } from "../../ffi/errors.ts";
import { loadLibbpf } from "../../ffi/libbpf.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { effectiveCapabilities, jitState, requireBtf, requireCapabilities, requireKernel, requireRoot } from "../../src/preflight.ts";

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

test("kernels older than 5.10 are refused by version, newer ones pass", () => {
  expect(() => requireKernel("5.4.0-150-generic")).toThrow("Linux 5.4.0-150-generic is too old: kflowd needs 5.10 or newer");
  expect(() => requireKernel("4.19.0")).toThrow("too old");
  expect(requireKernel("5.10.0-28-amd64")).toBe("5.10");
  expect(requireKernel("6.18.0")).toBe("6.18");
  expect(() => requireKernel("weird")).toThrow("cannot read the kernel version from 'weird'");
});

test("JIT state from net.core.bpf_jit_enable", () => {
  const dir = mkdtempSync(`${tmpdir()}/kflowd-jit-`);
  for (const [value, state] of [
    ["0", "off"],
    ["1", "on"],
    ["2", "on, with debug output"],
    ["x", "unknown"],
  ] as const) {
    writeFileSync(`${dir}/jit`, `${value}\n`);
    expect(jitState(`${dir}/jit`)).toBe(state);
  }
  expect(jitState(`${dir}/missing`)).toBe("unknown");
});

test("capabilities: what is missing is named", () => {
  const caps = (...bits: number[]) => bits.reduce((a, b) => a | (1n << BigInt(b)), 0n);
  expect(effectiveCapabilities("Name:\tx\nCapEff:\t000001ffffffffff\n")).toBe(0x1ffffffffffn);
  expect(() => requireCapabilities(caps(21), true)).not.toThrow(); // CAP_SYS_ADMIN covers all
  expect(() => requireCapabilities(caps(38, 39, 12), true)).not.toThrow();
  expect(() => requireCapabilities(caps(38), true)).toThrow(
    "missing capability CAP_BPF: loading the BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)",
  );
  expect(() => requireCapabilities(caps(), false)).toThrow("missing capability CAP_BPF and CAP_PERFMON");
  expect(() => requireCapabilities(caps(38, 39), true)).toThrow(
    "missing capability CAP_NET_ADMIN: socket monitoring needs it (or use -m file)",
  );
  expect(() => requireCapabilities(caps(38, 39), false)).not.toThrow();
});
