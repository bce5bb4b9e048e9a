/**
 * Boots a Debian kernel under QEMU TCG with an initramfs holding the compiled agent, a
 * Debian userland (busybox, glibc, libbpf, libelf, zlib of the guest's architecture)
 * and the scenario, and returns what the payload printed.
 */
import { $ } from "bun";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { CACHE, type DebArch, extractDeb, fetchDeb } from "../../scripts/debian.ts";
import { sysroot } from "../../scripts/sysroot.ts";
import { aptUpdate, newestPackage } from "../../scripts/debian.ts";
import type { KernelTarget } from "./targets.ts";

const PAYLOAD = new URL("./payload/", import.meta.url).pathname;
const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
/** TCG is slow; a boot, agent start and scenario take well under this */
const BOOT_TIMEOUT_S = 300;

/**
 * Kernel image of target, downloaded and unpacked once; returns [path, package].
 * Older packages hold the image as /boot/vmlinuz-ABI in linux-image-ABI itself. Newer
 * ones (trixie-backports from 6.19, unstable) split it: linux-image-ABI is an empty
 * package depending on linux-binary-ABI, which holds the image (/boot/vmlinuz-ABI in 6.19,
 * /usr/lib/modules/ABI/vmlinuz in 7.x), linux-modules-ABI and linux-base-ABI.
 */
export async function kernelImage(k: KernelTarget): Promise<[string, string]> {
  await aptUpdate(k.suite);
  const pkg = await newestPackage(k.suite, k.image);
  const abi = pkg.replace(/^linux-image-/, "");
  const dir = `${CACHE}/kernels/${pkg}`;
  const found = () => [`${dir}/boot/vmlinuz-${abi}`, `${dir}/usr/lib/modules/${abi}/vmlinuz`].find((p) => existsSync(p));
  for (const from of [pkg, `linux-binary-${abi}`]) {
    if (found()) break;
    await extractDeb(await fetchDeb(k.suite, from), dir);
  }
  const image = found();
  if (!image) throw new Error(`neither ${pkg} nor linux-binary-${abi} holds a vmlinuz`);
  return [image, pkg];
}

/**
 * test/fixtures/fileops.c for arch, static, as a native program and as a 32-bit one
 * (i386 on amd64, armhf on arm64); returns [native, 32-bit] paths in outDir.
 */
export async function buildFileops(arch: DebArch, outDir: string): Promise<[string, string]> {
  const src = `${FIXTURES}fileops.c`;
  const native = `${outDir}/fileops64-${arch}`;
  const compat = `${outDir}/fileops32-${arch}`;
  mkdirSync(outDir, { recursive: true });
  const flags = ["-O2", "-static", "-Wall", "-Werror"];
  if (arch === "amd64") {
    await $`${process.arch === "x64" ? "gcc" : "x86_64-linux-gnu-gcc"} ${flags} -o ${native} ${src}`;
    // (the 32-bit libc of gcc-12-multilib; its asm headers are the amd64 ones, which cover i386)
    await $`gcc -m32 ${flags} -idirafter /usr/include/x86_64-linux-gnu -o ${compat} ${src}`;
  } else {
    await $`${process.arch === "arm64" ? "gcc" : "aarch64-linux-gnu-gcc"} ${flags} -o ${native} ${src}`;
    await $`arm-linux-gnueabihf-gcc ${flags} -o ${compat} ${src}`;
  }
  return [native, compat];
}

/**
 * test/fixtures/uring-ops.c for arch, static, linked with Debian's liburing (the host's
 * liburing-dev; for the other architecture its liburing-dev package, unpacked into the
 * cache); returns its path in outDir.
 */
export async function buildUringOps(arch: DebArch, outDir: string): Promise<string> {
  const src = `${FIXTURES}uring-ops.c`;
  const out = `${outDir}/uring-ops-${arch}`;
  mkdirSync(outDir, { recursive: true });
  const flags = ["-O2", "-static", "-Wall", "-Werror"];
  const native = (process.arch === "arm64") === (arch === "arm64");
  if (native) {
    await $`gcc ${flags} -o ${out} ${src} -luring`;
  } else {
    const dir = `${CACHE}/liburing-${arch}`;
    if (!existsSync(`${dir}/usr/include/liburing.h`)) {
      const suite = { name: "bookworm", arch } as const;
      await aptUpdate(suite);
      await extractDeb(await fetchDeb(suite, "liburing-dev"), dir);
    }
    const cc = arch === "arm64" ? "aarch64-linux-gnu-gcc" : "x86_64-linux-gnu-gcc";
    const triple = arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
    await $`${cc} ${flags} -I${dir}/usr/include -o ${out} ${src} -L${dir}/usr/lib/${triple} -luring`;
  }
  return out;
}

/** Builds the initramfs for arch around the agent executable; returns its path. */
export async function buildInitramfs(arch: DebArch, agent: string, outDir: string): Promise<string> {
  const root = await sysroot(arch);
  const stage = mkdtempSync(`${tmpdir()}/kflowd-initramfs-`);
  try {
    for (const d of ["bin", "dev", "proc", "sys", "tmp", "etc", "payload", "root"]) mkdirSync(`${stage}/${d}`, { recursive: true });
    // libraries only: the guest needs no headers, docs or locales
    for (const d of ["lib", "lib64", "usr/lib"]) {
      if (existsSync(`${root}/${d}`)) cpSync(`${root}/${d}`, `${stage}/${d}`, { recursive: true, verbatimSymlinks: true });
    }
    rmSync(`${stage}/usr/lib/locale`, { recursive: true, force: true });
    copyFileSync(`${root}/bin/busybox`, `${stage}/bin/busybox`);
    copyFileSync(`${PAYLOAD}init`, `${stage}/init`);
    for (const f of ["run.sh", "scenario.sh"]) copyFileSync(`${PAYLOAD}${f}`, `${stage}/payload/${f}`);
    copyFileSync(agent, `${stage}/payload/kflowd`);
    chmodSync(`${stage}/payload/kflowd`, 0o755);
    const [native, compat] = await buildFileops(arch, outDir);
    copyFileSync(native, `${stage}/payload/fileops64`);
    copyFileSync(compat, `${stage}/payload/fileops32`);
    copyFileSync(await buildUringOps(arch, outDir), `${stage}/payload/uring-ops`);
    chmodSync(`${stage}/payload/uring-ops`, 0o755);
    chmodSync(`${stage}/init`, 0o755);
    chmodSync(`${stage}/bin/busybox`, 0o755);
    writeFileSync(`${stage}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(`${stage}/etc/group`, "root:x:0:\n");
    mkdirSync(outDir, { recursive: true });
    const out = `${outDir}/initrd-${arch}.gz`;
    await $`sh -c ${"find . | cpio -o -H newc --quiet | gzip -1"} > ${out}`.cwd(stage);
    return out;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export interface GuestRun {
  /** what the payload printed, between GUEST UP and GUEST DONE */
  readonly output: string;
  /** the kernel's console, for diagnosing a failed boot */
  readonly console: string;
  /** exit code of the payload, or -1 if the guest never reported one */
  readonly rc: number;
  readonly seconds: number;
}

export async function boot(arch: DebArch, kernel: string, initrd: string, workDir: string): Promise<GuestRun> {
  const con = `${workDir}/console-${arch}.log`;
  const out = `${workDir}/out-${arch}.log`;
  rmSync(con, { force: true });
  rmSync(out, { force: true });
  const common = ["-accel", "tcg", "-smp", "1", "-m", "1024", "-display", "none", "-no-reboot", "-nodefaults"];
  const t0 = performance.now();
  if (arch === "amd64") {
    await $`timeout ${BOOT_TIMEOUT_S} qemu-system-x86_64 ${common} -cpu max -serial file:${con} -serial file:${out} -kernel ${kernel} -initrd ${initrd} -append ${"console=ttyS0 vmout=/dev/ttyS1 loglevel=0 panic=-1"}`
      .nothrow()
      .quiet();
  } else {
    await $`timeout ${BOOT_TIMEOUT_S} qemu-system-aarch64 -M virt ${common} -cpu max,pauth-impdef=on -serial file:${con} -kernel ${kernel} -initrd ${initrd} -append ${"console=ttyAMA0 loglevel=0 panic=-1"}`
      .nothrow()
      .quiet();
  }
  const seconds = (performance.now() - t0) / 1000;
  const consoleText = existsSync(con) ? readFileSync(con, "utf8") : "";
  const raw = arch === "amd64" ? (existsSync(out) ? readFileSync(out, "utf8") : "") : consoleText;
  const start = raw.indexOf("=== GUEST UP");
  const end = raw.indexOf("=== GUEST DONE");
  const output = start >= 0 ? raw.slice(start, end >= 0 ? end : undefined).replace(/\r/g, "") : "";
  const rc = Number(/^=== RC (\d+)$/m.exec(output)?.[1] ?? -1);
  return { output, console: consoleText, rc, seconds };
}
