/**
 * Builds everything for one architecture: the BPF object, the C shim, a check that the
 * generated record layout is current, and the single executable (BPF object and shim
 * embedded): dist/kflowd for the host, dist/kflowd-arm64 / dist/kflowd-x86_64 when
 * cross-building. Usage: bun scripts/build.ts [x86|arm64]
 */
import { $ } from "bun";
import { copyFileSync, mkdirSync, renameSync } from "node:fs";
import { archDir, BUILD_DIR, type BpfArch, buildBpf, hostBpfArch } from "../bpf/build.ts";
import { sysroot } from "./sysroot.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** what src/embedded.ts embeds: the architecture being compiled */
const TARGET_DIR = `${BUILD_DIR}/target`;

export function agentPath(arch: BpfArch): string {
  if (arch === hostBpfArch()) return `${ROOT}dist/kflowd`;
  return `${ROOT}dist/kflowd-${arch === "x86" ? "x86_64" : "arm64"}`;
}

export async function buildShim(arch: BpfArch): Promise<string> {
  mkdirSync(archDir(arch), { recursive: true });
  const out = `${archDir(arch)}/libkflowd-shim.so`;
  const flags = ["-O2", "-g0", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"];
  const sources = [`${ROOT}ffi/shim.c`, `${ROOT}ffi/canary.c`];
  if (arch === hostBpfArch()) {
    await $`gcc ${flags} -o ${out} ${sources} -l:libbpf.so.1`;
  } else {
    // cross build against the target's libbpf from Debian's packages
    const root = await sysroot(arch === "arm64" ? "arm64" : "amd64");
    const triple = arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
    const lib = `${root}/usr/lib/${triple}`;
    await $`${triple}-gcc ${flags} -I${root}/usr/include -o ${out} ${sources} -L${lib} -Wl,-rpath-link,${lib}:${root}/lib/${triple} -l:libbpf.so.1`;
  }
  return out;
}

export async function buildAgent(arch: BpfArch = hostBpfArch()): Promise<string> {
  const object = await buildBpf(arch);
  const shim = await buildShim(arch);
  await $`${process.execPath} ${ROOT}bpf/gen-layout.ts --check`;
  mkdirSync(TARGET_DIR, { recursive: true });
  copyFileSync(object, `${TARGET_DIR}/kflowd.bpf.o`);
  copyFileSync(shim, `${TARGET_DIR}/libkflowd-shim.so`);
  mkdirSync(`${ROOT}dist`, { recursive: true });
  const out = agentPath(arch);
  const target = arch === "arm64" ? "bun-linux-arm64" : "bun-linux-x64";
  // built beside and renamed over: agents still running from the old file keep their inode
  const tmp = `${out}.${process.pid}.tmp`;
  await $`${process.execPath} build --compile --target=${target} --minify-syntax --outfile ${tmp} ${ROOT}src/main.ts`.quiet();
  renameSync(tmp, out);
  return out;
}

if (import.meta.main) {
  const arch = (process.argv[2] ?? hostBpfArch()) as BpfArch;
  if (arch !== "x86" && arch !== "arm64") throw new Error(`unknown architecture '${arch}' (x86 or arm64)`);
  console.log(await buildAgent(arch));
}
