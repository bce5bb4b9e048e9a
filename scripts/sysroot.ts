/**
 * A foreign-architecture root of Debian packages (arm64 on an x86_64 host): the libraries
 * the cross-built shim links against and the guest of the kernel matrix runs with.
 * Unpacked once into the cache, never installed into the host's dpkg.
 */
import { existsSync, writeFileSync } from "node:fs";
import { aptUpdate, CACHE, type DebArch, extractDeb, fetchDeb, type Suite } from "./debian.ts";

/** What the agent needs at run time, plus the libbpf headers for building the shim. */
export const SYSROOT_PACKAGES = ["libc6", "libbpf1", "libbpf-dev", "libelf1", "zlib1g", "busybox-static"];

export async function sysroot(arch: DebArch): Promise<string> {
  const dir = `${CACHE}/sysroot-${arch}`;
  const done = `${dir}/.complete`;
  if (existsSync(done)) return dir;
  const suite: Suite = { name: "bookworm", arch };
  await aptUpdate(suite);
  for (const pkg of SYSROOT_PACKAGES) await extractDeb(await fetchDeb(suite, pkg), dir);
  writeFileSync(done, `${SYSROOT_PACKAGES.join(" ")}\n`);
  return dir;
}
