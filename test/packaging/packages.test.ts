// The deb and rpm packages of both architectures, built from nfpm.yaml: metadata, file
// lists, dependencies and scripts; the executable inside is the unstripped build; the
// x86_64 packages install into a throwaway root and the installed kflowd runs there.
import { $ } from "bun";
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { buildPackages, packageVersion } from "../../scripts/package.ts";
import { agentPath } from "../../scripts/build.ts";

setDefaultTimeout(300_000);

let files: string[] = [];
let version = "";
const find = (suffix: string) => {
  const f = files.find((x) => x.endsWith(suffix));
  if (!f) throw new Error(`no package ending in ${suffix}`);
  return f;
};

beforeAll(async () => {
  version = await packageVersion();
  files = await buildPackages(["amd64", "arm64"]);
}, 600_000);

describe("deb", () => {
  for (const [arch, binary] of [
    ["amd64", agentPath("x86")],
    ["arm64", agentPath("arm64")],
  ] as const) {
    test(`${arch}: control, files, conffiles, scripts`, async () => {
      const deb = find(`_${arch}.deb`);
      const info = await $`dpkg-deb -I ${deb}`.text();
      expect(info).toContain("Package: kflowd");
      expect(info).toContain(`Version: ${version}-1`);
      expect(info).toContain(`Architecture: ${arch}`);
      expect(info).toMatch(/Depends: libbpf1 \(>= 1:1\.0\), libelf1, zlib1g/);
      expect(info).toMatch(/ postinst\b/);
      expect(info).toMatch(/ prerm\b/);
      const list = await $`dpkg-deb -c ${deb}`.text();
      expect(list).toContain("./etc/systemd/system/kflowd.service");
      expect(list).toContain("./etc/default/kflowd");
      // the executable is the build, byte for byte the same size: never stripped
      const size = Bun.file(binary).size;
      expect(list).toMatch(new RegExp(`-rwxr-xr-x root/root +${size} .* \\./usr/bin/kflowd`));
      expect(await $`dpkg-deb -f ${deb} Architecture`.text()).toBe(`${arch}\n`);
      const conffiles = await $`dpkg-deb --ctrl-tarfile ${deb} | tar -xO ./conffiles`.text();
      expect(conffiles.trim().split("\n").sort()).toEqual(["/etc/default/kflowd", "/etc/systemd/system/kflowd.service"]);
    });
  }

  test("amd64 installs with dpkg into a throwaway root, and the installed kflowd runs", async () => {
    const root = mkdtempSync(`${tmpdir()}/kflowd-root-`);
    mkdirSync(`${root}/var/lib/dpkg/updates`, { recursive: true });
    mkdirSync(`${root}/var/lib/dpkg/info`, { recursive: true });
    writeFileSync(`${root}/var/lib/dpkg/status`, "");
    const deb = find("_amd64.deb");
    await $`dpkg --instdir=${root} --admindir=${root}/var/lib/dpkg --force-depends --force-script-chrootless -i ${deb}`.quiet();
    expect(await $`dpkg --admindir=${root}/var/lib/dpkg -s kflowd`.text()).toContain("Status: install ok installed");
    await $`cmp ${root}/usr/bin/kflowd ${agentPath("x86")}`;
    expect(await $`${root}/usr/bin/kflowd --version`.text()).toMatch(/^kflowd v\d+\.\d+\.\d+ \(bun /);
    await $`dpkg --instdir=${root} --admindir=${root}/var/lib/dpkg --force-script-chrootless -r kflowd`.quiet();
    expect(await Bun.file(`${root}/usr/bin/kflowd`).exists()).toBe(false);
  });
});

describe("rpm", () => {
  for (const [arch, rpmArch] of [
    ["amd64", "x86_64"],
    ["arm64", "aarch64"],
  ] as const) {
    test(`${arch}: header, files, requirements, scripts`, async () => {
      const rpm = find(`.${rpmArch}.rpm`);
      const info = await $`rpm -qip ${rpm}`.text();
      expect(info).toMatch(/Name\s*: kflowd/);
      expect(info).toMatch(new RegExp(`Architecture: ${rpmArch}`));
      expect(info).toMatch(/License\s*: GPL-2.0-only/);
      expect((await $`rpm -qlp ${rpm}`.text()).trim().split("\n").sort()).toEqual([
        "/etc/default/kflowd",
        "/etc/systemd/system/kflowd.service",
        "/usr/bin/kflowd",
      ]);
      const requires = await $`rpm -qp --requires ${rpm}`.text();
      for (const r of ["libbpf >= 1.0", "elfutils-libelf", "zlib", "glibc"]) expect(requires).toContain(r);
      const scripts = await $`rpm -qp --scripts ${rpm}`.text();
      expect(scripts).toContain("postinstall scriptlet");
      expect(scripts).toContain("systemctl disable --now kflowd.service");
      expect(await $`rpm -qp --configfiles ${rpm}`.text()).toContain("/etc/default/kflowd");
      expect(await $`rpm -qlvp ${rpm}`.text()).toMatch(/-rwxr-xr-x .* \/usr\/bin\/kflowd/);
    });
  }

  test("x86_64 installs into a throwaway rpm root with the executable intact", async () => {
    const root = mkdtempSync(`${tmpdir()}/kflowd-rpmroot-`);
    await $`rpm --root ${root} --initdb`;
    await $`rpm --root ${root} -i --nodeps --noscripts ${find(".x86_64.rpm")}`.quiet();
    await $`cmp ${root}/usr/bin/kflowd ${agentPath("x86")}`;
    expect(await $`${root}/usr/bin/kflowd --version`.text()).toMatch(/^kflowd v/);
  });
});
