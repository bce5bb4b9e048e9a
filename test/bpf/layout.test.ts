// The generated layout is current: the BPF object is compiled (clang) and its BTF
// compared with src/records/layout.gen.ts.
import { $ } from "bun";
import { expect, test } from "bun:test";
import { ROOT } from "../helpers/paths.ts";

test("src/records/layout.gen.ts matches bpf/records.h (regenerate with `bun run gen`)", async () => {
  await $`${process.execPath} ${ROOT}bpf/build.ts`.quiet();
  const r = await $`${process.execPath} ${ROOT}bpf/gen-layout.ts --check`.nothrow().quiet();
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
});
