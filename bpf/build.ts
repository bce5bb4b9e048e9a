/**
 * Compiles the BPF object (per architecture) and the layout object.
 * Usage: bun bpf/build.ts [x86|arm64]
 */
import { $ } from "bun";
import { existsSync, mkdirSync } from "node:fs";

export type BpfArch = "x86" | "arm64";

const ROOT = new URL("..", import.meta.url).pathname;
export const BUILD_DIR = `${ROOT}build`;

/** The clang of Debian 12 is clang-16; fall back to plain clang elsewhere. */
export function clang(): string {
  return Bun.which("clang-16") ?? Bun.which("clang") ?? "clang-16";
}

export function hostBpfArch(): BpfArch {
  return process.arch === "arm64" ? "arm64" : "x86";
}

/** Directory of one architecture's build outputs. */
export function archDir(arch: BpfArch): string {
  return `${BUILD_DIR}/${arch}`;
}

export const LAYOUT_OBJECT = `${BUILD_DIR}/layout.bpf.o`;

export async function buildBpf(arch: BpfArch): Promise<string> {
  const vmlinux = `${ROOT}bpf/vmlinux/${arch}`;
  if (!existsSync(`${vmlinux}/vmlinux.h`)) throw new Error(`no ${vmlinux}/vmlinux.h`);
  mkdirSync(archDir(arch), { recursive: true });
  const out = `${archDir(arch)}/kflowd.bpf.o`;
  const cc = clang();
  await $`${cc} -g -O2 -target bpf -D__TARGET_ARCH_${arch} -Wall -Werror -I${ROOT}bpf -I${vmlinux} -c ${ROOT}bpf/kflowd.bpf.c -o ${out}`;
  // DWARF is not needed at run time; BTF (what CO-RE uses) stays.
  await $`${Bun.which("llvm-strip-16") ?? "llvm-strip"} -g ${out}`;
  // layout.bpf.c only uses fixed-width types: the host's UAPI headers are enough.
  const multiarch = (await $`gcc -print-multiarch`.text()).trim();
  await $`${cc} -g -O2 -target bpf -Wall -Wpadded -Werror -I${ROOT}bpf -I/usr/include/${multiarch} -c ${ROOT}bpf/layout.bpf.c -o ${LAYOUT_OBJECT}`;
  return out;
}

if (import.meta.main) {
  const arch = (process.argv[2] ?? hostBpfArch()) as BpfArch;
  console.log(await buildBpf(arch));
}
