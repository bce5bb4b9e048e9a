/**
 * Debian packages for the kernel matrix, through a private apt configuration per
 * (suite, arch): the system's apt sources and dpkg architectures stay untouched.
 * Everything is cached outside the repository (KFLOWD_KERNEL_CACHE, default
 * ~/.cache/kflowd-kernels) and reused by later runs on the same machine.
 */
import { $ } from "bun";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";

export const CACHE = process.env.KFLOWD_KERNEL_CACHE ?? `${homedir()}/.cache/kflowd-kernels`;

export type DebArch = "amd64" | "arm64";
/** The Debian suites packages come from; see DISTS for what each lists. */
export type SuiteName = "bullseye" | "bookworm" | "trixie-backports" | "unstable";
export interface Suite {
  readonly name: SuiteName;
  readonly arch: DebArch;
}

const DEBIAN = "http://deb.debian.org/debian";
const DEBIAN_SECURITY = "http://deb.debian.org/debian-security";
/**
 * The archive lines of each suite's private sources list. Stable releases come with their
 * security suite. Backports and unstable have none; trixie-backports is listed without
 * trixie itself, as only `apt-get download` is used, which resolves no dependencies.
 */
const DISTS: Record<SuiteName, readonly string[]> = {
  bullseye: [`${DEBIAN} bullseye`, `${DEBIAN_SECURITY} bullseye-security`],
  bookworm: [`${DEBIAN} bookworm`, `${DEBIAN_SECURITY} bookworm-security`],
  "trixie-backports": [`${DEBIAN} trixie-backports`],
  unstable: [`${DEBIAN} unstable`],
};
/**
 * The host's archive keyring verifies every suite's Release file. Checked on Debian 12
 * (debian-archive-keyring 2023.3+deb12u2, which already holds the 13/trixie keys):
 * trixie-backports and unstable are signed by the 12/bookworm and 13/trixie automatic
 * signing keys, either of which suffices (apt 2.6 accepts a Release file with one good
 * signature; tried with keyrings holding only one of the two). Once neither key signs
 * any more, apt's update fails with NO_PUBKEY and a newer keyring is needed here.
 */
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;

function aptDir(s: Suite): string {
  return `${CACHE}/apt-${s.name}-${s.arch}`;
}

function aptOptions(s: Suite): string[] {
  const d = aptDir(s);
  return [
    `-oDir::Etc::SourceList=${d}/sources.list`,
    "-oDir::Etc::SourceParts=/nonexistent",
    `-oDir::State::Lists=${d}/lists`,
    `-oDir::Cache=${d}/cache`,
    `-oAPT::Architecture=${s.arch}`,
    `-oAPT::Architectures::=${s.arch}`,
    "-oAPT::Sandbox::User=root",
  ];
}

/** Refreshes the private package lists when they are missing or a day old. */
export async function aptUpdate(s: Suite): Promise<void> {
  const d = aptDir(s);
  mkdirSync(`${d}/lists/partial`, { recursive: true });
  mkdirSync(`${d}/cache/archives/partial`, { recursive: true });
  writeFileSync(`${d}/sources.list`, DISTS[s.name].map((dist) => `deb [signed-by=${KEYRING}] ${dist} main\n`).join(""));
  const stamp = `${d}/lists/.updated`;
  if (existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < LISTS_MAX_AGE_MS) return;
  await $`apt-get ${aptOptions(s)} -qq update`.quiet();
  writeFileSync(stamp, "");
}

/** The newest package whose name matches pattern, by Debian version order. */
export async function newestPackage(s: Suite, pattern: RegExp): Promise<string> {
  const names = (await $`apt-cache ${aptOptions(s)} pkgnames linux-image-`.text()).split("\n").filter((n) => pattern.test(n));
  if (names.length === 0) throw new Error(`no package matching ${pattern} in ${s.name}/${s.arch}`);
  const sorted = (await $`printf '%s\n' ${names} | sort -V`.text()).trim().split("\n");
  return sorted.at(-1)!;
}

/** Path of the .deb of pkg, downloaded once into the cache. */
export async function fetchDeb(s: Suite, pkg: string): Promise<string> {
  const dir = `${CACHE}/debs/${s.arch}`;
  mkdirSync(dir, { recursive: true });
  const have = () => readdirSync(dir).find((f) => f.startsWith(`${pkg.replace(/:.*/, "")}_`) && f.endsWith(".deb"));
  let file = have();
  if (!file) {
    await $`apt-get ${aptOptions(s)} -qq download ${pkg}`.cwd(dir).quiet();
    file = have();
  }
  if (!file) throw new Error(`download of ${pkg} left no .deb in ${dir}`);
  return `${dir}/${file}`;
}

/** Unpacks a .deb into dir (files only, no scripts). */
export async function extractDeb(deb: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await $`dpkg-deb -x ${deb} ${dir}`;
}
