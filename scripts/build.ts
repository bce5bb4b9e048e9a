/**
 * Builds everything: the BPF object, the C shim, a check that the generated record
 * layout is current, and the single executable dist/kflowd (BPF object and shim
 * embedded). Usage: bun scripts/build.ts
 */
import { $ } from "bun";
import { mkdirSync } from "node:fs";
import { BUILD_DIR, buildBpf, hostBpfArch } from "../bpf/build.ts";

const ROOT = new URL("..", import.meta.url).pathname;

export const SHIM = `${BUILD_DIR}/libkflowd-shim.so`;
export const AGENT = `${ROOT}dist/kflowd`;

export async function buildShim(): Promise<void> {
  mkdirSync(BUILD_DIR, { recursive: true });
  await $`gcc -O2 -g0 -Wall -Wextra -Werror -fPIC -shared -o ${SHIM} ${ROOT}ffi/shim.c -l:libbpf.so.1`;
}

export async function buildAgent(): Promise<void> {
  await buildBpf(hostBpfArch());
  await buildShim();
  await $`${process.execPath} ${ROOT}bpf/gen-layout.ts --check`;
  mkdirSync(`${ROOT}dist`, { recursive: true });
  await $`${process.execPath} build --compile --minify-syntax --outfile ${AGENT} ${ROOT}src/main.ts`.quiet();
}

if (import.meta.main) {
  await buildAgent();
  console.log(AGENT);
}
