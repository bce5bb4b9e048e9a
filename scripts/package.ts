/**
 * Builds the deb and rpm packages for x86_64 and arm64 from nfpm.yaml: with nfpm when it
 * is on PATH, otherwise with dpkg-deb and rpmbuild from the same description.
 * Usage: bun scripts/package.ts [amd64|arm64 ...]   (default: both; output in dist/packages)
 */
import { $ } from "bun";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { buildAgent } from "./build.ts";

const ROOT = new URL("..", import.meta.url).pathname;
export const PACKAGES = `${ROOT}dist/packages`;

export type PkgArch = "amd64" | "arm64";
const BPF_ARCH = { amd64: "x86", arm64: "arm64" } as const;
const RPM_ARCH = { amd64: "x86_64", arm64: "aarch64" } as const;

interface Content {
  src: string;
  dst: string;
  type?: string;
  file_info?: { mode?: number };
}
interface Description {
  name: string;
  version: string;
  release: string;
  section: string;
  priority: string;
  maintainer: string;
  vendor: string;
  homepage: string;
  license: string;
  description: string;
  contents: Content[];
  scripts: { postinstall: string; preremove: string; postremove: string };
  overrides: { deb: { depends: string[] }; rpm: { depends: string[] } };
}

/** The package version: a v* tag when HEAD has one, else package.json's plus git's count and hash. */
export async function packageVersion(): Promise<string> {
  const tag = (await $`git -C ${ROOT} describe --tags --exact-match --match v[0-9]*`.nothrow().quiet().text()).trim();
  if (tag) return tag.slice(1);
  const count = (await $`git -C ${ROOT} rev-list --count HEAD`.text()).trim();
  const hash = (await $`git -C ${ROOT} rev-parse --short HEAD`.text()).trim();
  return `${pkg.version}+git${count}.${hash}`;
}

/** nfpm.yaml with ${VAR} expanded from vars, parsed. */
export function readDescription(vars: Record<string, string>): Description {
  const text = readFileSync(`${ROOT}nfpm.yaml`, "utf8").replace(/\$\{(\w+)\}/g, (_, v: string) => {
    if (!(v in vars)) throw new Error(`nfpm.yaml uses \${${v}}, which is not set`);
    return vars[v]!;
  });
  return Bun.YAML.parse(text) as Description;
}

/**
 * A file mode of nfpm.yaml. nfpm reads "0755" as octal (YAML 1.1); a YAML 1.2 parser, as
 * Bun's, reads it as the decimal 755, whose digits are the octal ones.
 */
function fileMode(c: Content): number {
  const mode = c.file_info?.mode;
  return mode === undefined ? 0o644 : Number.parseInt(String(mode), 8);
}

async function buildDeb(d: Description, arch: PkgArch, out: string): Promise<string> {
  const tree = `${ROOT}build/pkg/deb-${arch}`;
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(`${tree}/DEBIAN`, { recursive: true });
  let bytes = 0;
  for (const c of d.contents) {
    const dst = `${tree}${c.dst}`;
    mkdirSync(dirname(dst), { recursive: true });
    copyFileSync(`${ROOT}${c.src}`, dst);
    chmodSync(dst, fileMode(c));
    bytes += statSync(dst).size;
  }
  const [summary, ...rest] = d.description.split("\n");
  const control = [
    `Package: ${d.name}`,
    `Version: ${d.version}-${d.release}`,
    `Architecture: ${arch}`,
    `Maintainer: ${d.maintainer}`,
    `Installed-Size: ${Math.ceil(bytes / 1024)}`,
    `Depends: ${d.overrides.deb.depends.join(", ")}`,
    `Section: ${d.section}`,
    `Priority: ${d.priority}`,
    `Homepage: ${d.homepage}`,
    `Description: ${summary}`,
    ...rest.map((l) => ` ${l.trim() || "."}`),
  ];
  writeFileSync(`${tree}/DEBIAN/control`, `${control.join("\n")}\n`);
  const conffiles = d.contents.filter((c) => c.type?.startsWith("config")).map((c) => c.dst);
  writeFileSync(`${tree}/DEBIAN/conffiles`, `${conffiles.join("\n")}\n`);
  for (const [script, name] of [
    [d.scripts.postinstall, "postinst"],
    [d.scripts.preremove, "prerm"],
    [d.scripts.postremove, "postrm"],
  ] as const) {
    copyFileSync(`${ROOT}${script}`, `${tree}/DEBIAN/${name}`);
    chmodSync(`${tree}/DEBIAN/${name}`, 0o755);
  }
  const file = `${out}/${d.name}_${d.version}-${d.release}_${arch}.deb`;
  await $`dpkg-deb --root-owner-group -Zgzip --build ${tree} ${file}`.quiet();
  return file;
}

async function buildRpm(d: Description, arch: PkgArch, out: string): Promise<string> {
  const top = `${ROOT}build/pkg/rpm-${arch}`;
  rmSync(top, { recursive: true, force: true });
  mkdirSync(`${top}/SPECS`, { recursive: true });
  const script = (p: string) => readFileSync(`${ROOT}${p}`, "utf8").replace(/^#!.*\n/, "");
  const install = d.contents.map((c) => `install -D -m ${fileMode(c).toString(8)} ${ROOT}${c.src} %{buildroot}${c.dst}`);
  const files = d.contents.map((c) =>
    c.type === "config|noreplace" ? `%config(noreplace) ${c.dst}` : c.type === "config" ? `%config ${c.dst}` : c.dst,
  );
  const [summary, ...rest] = d.description.split("\n");
  const spec = [
    // a Bun executable must not be stripped, and has no debug info to split off
    "%global debug_package %{nil}",
    "%global __os_install_post %{nil}",
    "%global __strip /bin/true",
    "%define _build_id_links none",
    `Name: ${d.name}`,
    `Version: ${d.version}`,
    `Release: ${d.release}`,
    `Summary: ${summary}`,
    `License: ${d.license}`,
    `URL: ${d.homepage}`,
    `Vendor: ${d.vendor}`,
    `Packager: ${d.maintainer}`,
    // the embedded shim's needs are invisible to find-requires: declared here
    "AutoReqProv: no",
    ...d.overrides.rpm.depends.map((r) => `Requires: ${r}`),
    "",
    "%description",
    rest.join("\n").trim(),
    "",
    "%install",
    ...install,
    "",
    "%files",
    ...files,
    "",
    "%post",
    script(d.scripts.postinstall),
    "%preun",
    script(d.scripts.preremove),
    "%postun",
    script(d.scripts.postremove),
  ];
  writeFileSync(`${top}/SPECS/${d.name}.spec`, `${spec.join("\n")}\n`);
  await $`rpmbuild -bb --target ${RPM_ARCH[arch]}-linux --define ${`_topdir ${top}`} --define ${"_binary_payload w6.zstdio"} ${top}/SPECS/${d.name}.spec`.quiet();
  const file = `${d.name}-${d.version}-${d.release}.${RPM_ARCH[arch]}.rpm`;
  copyFileSync(`${top}/RPMS/${RPM_ARCH[arch]}/${file}`, `${out}/${file}`);
  return `${out}/${file}`;
}

/** Builds the executables if needed and the packages; returns the package files. */
export async function buildPackages(arches: readonly PkgArch[]): Promise<string[]> {
  mkdirSync(PACKAGES, { recursive: true });
  const version = await packageVersion();
  const built: string[] = [];
  for (const arch of arches) {
    const binary = await buildAgent(BPF_ARCH[arch]);
    const vars = { ARCH: arch, VERSION: version, BINARY: binary.slice(ROOT.length) };
    if (Bun.which("nfpm")) {
      for (const packager of ["deb", "rpm"]) {
        await $`nfpm package --config ${ROOT}nfpm.yaml --packager ${packager} --target ${PACKAGES}`
          .env({ ...process.env, ...vars })
          .cwd(ROOT);
      }
      continue;
    }
    const d = readDescription(vars);
    built.push(await buildDeb(d, arch, PACKAGES), await buildRpm(d, arch, PACKAGES));
  }
  // the host's own executable last, so that dist/kflowd and build/target match the host
  if (arches.at(-1) !== (process.arch === "arm64" ? "arm64" : "amd64")) await buildAgent();
  return built;
}

if (import.meta.main) {
  const arches = (process.argv.length > 2 ? process.argv.slice(2) : ["amd64", "arm64"]) as PkgArch[];
  for (const a of arches) if (a !== "amd64" && a !== "arm64") throw new Error(`unknown architecture '${a}' (amd64 or arm64)`);
  for (const f of await buildPackages(arches)) console.log(f);
}
