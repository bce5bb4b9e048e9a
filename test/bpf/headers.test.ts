// Every BPF header compiles on its own (it includes what it uses), in any order.
import { $ } from "bun";
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { ROOT } from "../helpers/paths.ts";

const HEADERS = readdirSync(`${ROOT}bpf`).filter((f) => f.endsWith(".h"));

test("each header of bpf/ compiles alone", async () => {
  expect(HEADERS.length).toBeGreaterThan(10);
  const dir = mkdtempSync(`${tmpdir()}/kflowd-headers-`);
  const arch = process.arch === "arm64" ? "arm64" : "x86";
  const multiarch = (await $`gcc -print-multiarch`.text()).trim();
  const failed: string[] = [];
  for (const h of HEADERS) {
    const unit = `${dir}/${h}.c`;
    writeFileSync(unit, `#include "${h}"\n`);
    const r =
      await $`clang-16 -g -O2 -target bpf -D__TARGET_ARCH_${arch} -Wall -Werror -Wno-unused-function -I${ROOT}bpf -I${ROOT}bpf/vmlinux/${arch} -I/usr/include/${multiarch} -fsyntax-only ${unit}`
        .nothrow()
        .quiet();
    if (r.exitCode !== 0) failed.push(`${h}: ${r.stderr.toString().split("\n")[0]}`);
  }
  expect(failed).toEqual([]);
}, 60_000);
