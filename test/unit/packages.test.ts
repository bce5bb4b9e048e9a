import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import {
  classifyPackagePath,
  normalizePackagePath,
  PackageVersions,
  parseDpkgDiversions,
  parseDpkgStatus,
} from "../../src/enrich/packages.ts";
import { parseRpmHeader } from "../../src/enrich/rpm-header.ts";

const tmp = mkdtempSync(`${tmpdir()}/kflowd-packages-`);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(...cmd: string[]): string {
  const proc = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${proc.exitCode}): ${proc.stderr.toString()}`);
  return proc.stdout.toString();
}

/** A deterministic byte generator (xorshift32), so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) & 0xff;
  };
}

describe("indexing rule", () => {
  const cases = [
    ["/usr/bin/ls", "exe"],
    ["/usr/sbin/sshd", "exe"],
    ["/usr/local/bin/tool", "exe"],
    ["/usr/games/fortune", "exe"],
    ["/usr/lib/jvm/java-17/bin/java", "exe"],
    ["/usr/libexec/kflowd/helper", "exe"],
    ["/usr/libexec/a/b/c.sh", "exe"],
    ["/usr/lib/openssh/ssh-keysign", "exe"],
    ["/usr/lib/systemd/systemd-journald", "exe"],
    ["/usr/lib/x86_64-linux-gnu/libc.so.6", "lib"],
    ["/usr/lib/x86_64-linux-gnu/libstemmer.so.0d.0.0", "lib"],
    ["/usr/lib/python3/dist-packages/_foo.cpython-311-x86_64-linux-gnu.so", "lib"],
    ["/usr/lib/systemd/system/ssh.service", undefined],
    ["/usr/lib/systemd/system/multi-user.target.wants/x", undefined],
    ["/usr/share/man/man8/ld.so.8.gz", undefined],
    ["/usr/share/gdb/auto-load/lib/x86_64-linux-gnu/libc.so.6-gdb.py", undefined],
    ["/usr/share/doc/coreutils/copyright", undefined],
    ["/etc/passwd", undefined],
    ["/usr/lib/README", undefined],
    ["/.", undefined],
    ["/usr/bin/", undefined],
    ["", undefined],
  ] as const;
  for (const [path, kind] of cases) {
    test(`${JSON.stringify(path)} -> ${kind ?? "not indexed"}`, () => {
      expect(classifyPackagePath(path)).toBe(kind);
    });
  }

  test("merged /usr: /bin, /sbin and /lib* are keyed under /usr", () => {
    expect(normalizePackagePath("/bin/ls")).toBe("/usr/bin/ls");
    expect(normalizePackagePath("/sbin/ip")).toBe("/usr/sbin/ip");
    expect(normalizePackagePath("/lib/systemd/systemd-udevd")).toBe("/usr/lib/systemd/systemd-udevd");
    expect(normalizePackagePath("/lib64/ld-linux-x86-64.so.2")).toBe("/usr/lib64/ld-linux-x86-64.so.2");
    expect(normalizePackagePath("/usr/bin/ls")).toBe("/usr/bin/ls");
    expect(normalizePackagePath("/binary/x")).toBe("/binary/x");
    expect(classifyPackagePath(normalizePackagePath("/lib/systemd/systemd-udevd"))).toBe("exe");
  });
});

const hasDpkg = Bun.which("dpkg-query") !== null && existsSync("/var/lib/dpkg/status");
describe("dpkg database of this host", () => {
  test.skipIf(!hasDpkg)("ls has coreutils' version as dpkg-query prints it (needs dpkg-query)", async () => {
    const coreutils = run("dpkg-query", "-W", "-f=${Version}", "coreutils");
    expect(coreutils).not.toBe("");
    const pv = await PackageVersions.load({ rpmDb: `${tmp}/no-rpmdb.sqlite` });
    expect(pv.size).toBeGreaterThan(100);
    expect(pv.fileVersion("/usr/bin/ls")).toBe(coreutils);
    expect(pv.fileVersion("/bin/ls")).toBe(coreutils);
    expect(pv.exeVersion("ls")).toBe(coreutils);
    expect(pv.fileVersion("/usr/share/doc/coreutils/copyright")).toBe(""); // packaged, not indexed
    expect(pv.fileVersion(`${tmp}/not-packaged`)).toBe("");
    expect(pv.exeVersion("kflowd-no-such-tool")).toBe("");
  });

  test.skipIf(!hasDpkg)("libc.so.6 has libc6's version (needs dpkg-query)", async () => {
    const arch = run("dpkg", "--print-architecture").trim();
    const libc6 = run("dpkg-query", "-W", "-f=${Version}", `libc6:${arch}`);
    // as packaged: /lib/<triplet>/libc.so.6 on Debian 12, /usr/lib/... after the /usr move
    const packaged = run("dpkg-query", "-L", `libc6:${arch}`)
      .split("\n")
      .find((path) => path.endsWith("/libc.so.6"));
    expect(packaged).toBeDefined();
    const usrPath = normalizePackagePath(packaged!);
    const pv = await PackageVersions.load({ rpmDb: `${tmp}/no-rpmdb.sqlite` });
    expect(pv.fileVersion(usrPath)).toBe(libc6);
    expect(pv.fileVersion(usrPath.slice("/usr".length))).toBe(libc6);
  });
});

const STATUS = `Package: tool
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 1:1.0-1+deb12u1
Description: a tool
 Version: 9.9 (a continuation line, not a field)

Package: libx
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.0-1

Package: libx
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 2.0-1

Package: old
Status: deinstall ok config-files
Architecture: amd64
Version: 0.9-1

Package: gone
Status: purge ok not-installed
Architecture: amd64

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 0.1-1

Package: held
Status: hold ok installed
Architecture: all
Version: 3.0

Package: upgrading
Status: install ok unpacked
Architecture: amd64
Version: 4.0-2

Package: dup-a
Status: install ok installed
Architecture: amd64
Version: 1.0

Package: dup-b
Status: install ok installed
Architecture: amd64
Version: 2.0

Package: divert
Status: install ok installed
Architecture: amd64
Version: 5.0

Package: other
Status: install ok installed
Architecture: amd64
Version: 6.0`; // no final newline

const LISTS: Record<string, string> = {
  "tool.list": [
    "/.",
    "/usr",
    "/usr/bin",
    "/usr/bin/tool",
    "/usr/lib/tool",
    "/usr/lib/tool/tool-helper",
    "/usr/lib/tool/data.txt",
    "/usr/libexec",
    "/usr/libexec/tool",
    "/usr/libexec/tool/worker",
    "/usr/share/doc/tool/README",
    "/sbin/toolctl",
    "",
  ].join("\n"),
  "libx:amd64.list": "/.\n/usr/lib/x86_64-linux-gnu/libx.so.2\n/usr/lib/x86_64-linux-gnu/libx.so.2.0.1\n",
  "libx:i386.list": "/.\n/usr/lib/i386-linux-gnu/libx.so.2\n",
  "old.list": "/.\n/usr/bin/old\n",
  "gone.list": "/.\n/usr/bin/gone\n",
  "half.list": "/.\n/usr/bin/half\n",
  "held.list": "/.\n/usr/bin/held\n",
  "upgrading.list": "/.\n/usr/bin/upgrading\n",
  "dup-a.list": "/.\n/bin/dup\n/usr/bin/same\n",
  "dup-b.list": "/.\n/usr/bin/dup\n/usr/local/bin/same\n",
  "divert.list": "/.\n/usr/bin/shared\n",
  "other.list": "/.\n/usr/bin/shared\n",
};
const DIVERSIONS = "/usr/bin/shared\n/usr/bin/shared.other\ndivert\n";

function writeDpkgDir(dir: string, status: string): void {
  mkdirSync(`${dir}/info`, { recursive: true });
  writeFileSync(`${dir}/status`, status);
  writeFileSync(`${dir}/diversions`, DIVERSIONS);
  for (const [name, text] of Object.entries(LISTS)) writeFileSync(`${dir}/info/${name}`, text);
}

describe("dpkg database, synthetic", () => {
  test("status: packages whose files are on disk, continuation lines ignored", () => {
    expect(parseDpkgStatus(STATUS).map((p) => `${p.name}:${p.arch}=${p.version}`)).toEqual([
      "tool:amd64=1:1.0-1+deb12u1",
      "libx:amd64=2.0-1",
      "libx:i386=2.0-1",
      "held:all=3.0",
      "upgrading:amd64=4.0-2",
      "dup-a:amd64=1.0",
      "dup-b:amd64=2.0",
      "divert:amd64=5.0",
      "other:amd64=6.0",
    ]);
    expect(parseDpkgStatus("")).toEqual([]);
    expect(parseDpkgStatus("Package: x\nStatus: install ok installed\n")).toEqual([]); // no version
  });

  test("diversions: triples of lines", () => {
    expect([...parseDpkgDiversions(`${DIVERSIONS}/a\n/b\n:\n/trunc\n`)]).toEqual([
      ["/usr/bin/shared", { to: "/usr/bin/shared.other", by: "divert" }],
      ["/a", { to: "/b", by: ":" }],
    ]);
  });

  test("versions by path and by executable name", async () => {
    const dir = `${tmp}/dpkg-synthetic`;
    writeDpkgDir(dir, STATUS);
    const pv = await PackageVersions.load({ dpkgDir: dir, rpmDb: `${tmp}/no-rpmdb.sqlite` });
    const tool = "1:1.0-1+deb12u1";
    expect(pv.fileVersion("/usr/bin/tool")).toBe(tool);
    expect(pv.fileVersion("/usr/lib/tool/tool-helper")).toBe(tool);
    expect(pv.fileVersion("/usr/libexec/tool/worker")).toBe(tool);
    expect(pv.fileVersion("/usr/sbin/toolctl")).toBe(tool);
    expect(pv.fileVersion("/sbin/toolctl")).toBe(tool);
    expect(pv.exeVersion("toolctl")).toBe(tool);
    expect(pv.exeVersion("tool-helper")).toBe(tool);
    expect(pv.exeVersion("worker")).toBe(tool);
    // not selected by the rule, or directories of the package
    expect(pv.fileVersion("/usr/lib/tool/data.txt")).toBe("");
    expect(pv.fileVersion("/usr/share/doc/tool/README")).toBe("");
    expect(pv.fileVersion("/usr/libexec/tool")).toBe("");
    expect(pv.fileVersion("/usr/lib/tool")).toBe("");
    // Multi-Arch: same packages read from <name>:<arch>.list
    expect(pv.fileVersion("/usr/lib/x86_64-linux-gnu/libx.so.2")).toBe("2.0-1");
    expect(pv.fileVersion("/usr/lib/x86_64-linux-gnu/libx.so.2.0.1")).toBe("2.0-1");
    expect(pv.fileVersion("/usr/lib/i386-linux-gnu/libx.so.2")).toBe("2.0-1");
    expect(pv.exeVersion("libx.so.2")).toBe(""); // libraries are not executables by name
    // config-files, not-installed and half-installed packages are ignored; held and unpacked count
    expect(pv.fileVersion("/usr/bin/old")).toBe("");
    expect(pv.fileVersion("/usr/bin/gone")).toBe("");
    expect(pv.fileVersion("/usr/bin/half")).toBe("");
    expect(pv.fileVersion("/usr/bin/held")).toBe("3.0");
    expect(pv.exeVersion("upgrading")).toBe("4.0-2");
    // /bin/dup and /usr/bin/dup from packages of different versions: exact paths answer, the name is ambiguous
    expect(pv.fileVersion("/bin/dup")).toBe("1.0");
    expect(pv.fileVersion("/usr/bin/dup")).toBe("2.0");
    expect(pv.exeVersion("dup")).toBe("");
    expect(pv.fileVersion("/usr/bin/same")).toBe("1.0");
    expect(pv.fileVersion("/usr/local/bin/same")).toBe("2.0");
    expect(pv.exeVersion("same")).toBe("");
    // the diverting package keeps its path; the other package's file lives at the diverted path
    expect(pv.fileVersion("/usr/bin/shared")).toBe("5.0");
    expect(pv.fileVersion("/usr/bin/shared.other")).toBe("6.0");
    expect(pv.size).toBe(14);
  });

  test("refresh() reloads a changed status file and swaps the index when done", async () => {
    const dir = `${tmp}/dpkg-refresh`;
    writeDpkgDir(dir, STATUS);
    const pv = await PackageVersions.load({ dpkgDir: dir, rpmDb: `${tmp}/no-rpmdb.sqlite` });
    expect(pv.refresh()).toBe(false); // unchanged
    expect(pv.fileVersion("/usr/bin/tool")).toBe("1:1.0-1+deb12u1");
    writeFileSync(`${dir}/status`, STATUS.replace("Version: 1:1.0-1+deb12u1", "Version: 1:1.1-1"));
    utimesSync(`${dir}/status`, new Date(), new Date(Date.now() + 5000));
    expect(pv.refresh()).toBe(true);
    expect(pv.refresh()).toBe(false); // one reload at a time
    await pv.reloaded;
    expect(pv.fileVersion("/usr/bin/tool")).toBe("1:1.1-1");
    expect(pv.exeVersion("tool")).toBe("1:1.1-1");
    expect(pv.refresh()).toBe(false);
    // the database disappearing empties the cache
    rmSync(`${dir}/status`);
    expect(pv.refresh()).toBe(true);
    await pv.reloaded;
    expect(pv.size).toBe(0);
    expect(pv.fileVersion("/usr/bin/tool")).toBe("");
  });

  test("refresh() re-reads a rewritten list of the same version and follows changed diversions", async () => {
    const dir = `${tmp}/dpkg-reinstall`;
    writeDpkgDir(dir, STATUS);
    const pv = await PackageVersions.load({ dpkgDir: dir, rpmDb: `${tmp}/no-rpmdb.sqlite` });
    expect(pv.fileVersion("/usr/bin/tool2")).toBe("");
    // a reinstall of the same version rewrites the package's list and the status file
    writeFileSync(`${dir}/info/tool.list`, `${LISTS["tool.list"]}/usr/bin/tool2\n`);
    writeFileSync(`${dir}/status`, `${STATUS}\n`);
    expect(pv.refresh()).toBe(true);
    await pv.reloaded;
    expect(pv.fileVersion("/usr/bin/tool2")).toBe("1:1.0-1+deb12u1");
    // dpkg-divert --local --rename /usr/bin/held
    writeFileSync(`${dir}/diversions`, `${DIVERSIONS}/usr/bin/held\n/usr/bin/held.distrib\n:\n`);
    expect(pv.refresh()).toBe(true);
    await pv.reloaded;
    expect(pv.fileVersion("/usr/bin/held")).toBe("");
    expect(pv.fileVersion("/usr/bin/held.distrib")).toBe("3.0");
    expect(pv.fileVersion("/usr/bin/shared")).toBe("5.0");
  });

  test("missing databases give an empty cache and create nothing", async () => {
    const pv = await PackageVersions.load({ dpkgDir: `${tmp}/no-dpkg`, rpmDb: `${tmp}/no-rpm/rpmdb.sqlite` });
    expect(pv.size).toBe(0);
    expect(pv.fileVersion("/usr/bin/ls")).toBe("");
    expect(pv.exeVersion("ls")).toBe("");
    expect(pv.refresh()).toBe(false);
    expect(existsSync(`${tmp}/no-rpm`)).toBe(false);
  });
});

type RpmEntrySpec = readonly [tag: number, type: number, values: readonly (string | number)[]];

/** An rpm header blob (index count, data length, 16-byte entries, data store; big-endian). */
function rpmBlob(entries: readonly RpmEntrySpec[]): Uint8Array {
  const index: number[] = [];
  const data: number[] = [];
  for (const [tag, type, values] of entries) {
    if (type === 4) while (data.length % 4 !== 0) data.push(0);
    index.push(tag, type, data.length, values.length);
    for (const value of values) {
      if (typeof value === "number") data.push(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
      else data.push(...new TextEncoder().encode(value), 0);
    }
  }
  const blob = new Uint8Array(8 + index.length * 4 + data.length);
  const view = new DataView(blob.buffer);
  view.setUint32(0, entries.length);
  view.setUint32(4, data.length);
  for (const [i, word] of index.entries()) view.setUint32(8 + i * 4, word);
  blob.set(data, 8 + index.length * 4);
  return blob;
}

describe("rpm header parser", () => {
  test("compressed file names, no epoch", () => {
    const blob = rpmBlob([
      [1000, 6, ["pkg"]],
      [1001, 6, ["1.0"]],
      [1002, 6, ["3.fc40"]],
      [1117, 8, ["tool", "libp.so.1"]],
      [1118, 8, ["/usr/bin/", "/usr/lib64/"]],
      [1116, 4, [0, 1]],
    ]);
    expect(parseRpmHeader(blob)).toEqual({
      name: "pkg",
      evr: "1.0-3.fc40",
      dirNames: ["/usr/bin/", "/usr/lib64/"],
      baseNames: ["tool", "libp.so.1"],
      dirIndexes: [0, 1],
    });
  });

  test("old file names and epoch 0", () => {
    const blob = rpmBlob([
      [1000, 6, ["old"]],
      [1001, 6, ["2"]],
      [1002, 6, ["1"]],
      [1003, 4, [0]],
      [1027, 8, ["/bin/a", "/usr/bin/b"]],
    ]);
    expect(parseRpmHeader(blob)).toEqual({
      name: "old",
      evr: "0:2-1",
      dirNames: ["/bin/", "/usr/bin/"],
      baseNames: ["a", "b"],
      dirIndexes: [0, 1],
    });
  });

  test("bad headers give undefined", () => {
    const good: [number, number, (string | number)[]][] = [
      [1000, 6, ["p"]],
      [1001, 6, ["1"]],
      [1002, 6, ["1"]],
    ];
    expect(parseRpmHeader(rpmBlob(good))?.evr).toBe("1-1");
    expect(parseRpmHeader(rpmBlob(good.slice(0, 2)))).toBeUndefined(); // no release
    expect(parseRpmHeader(rpmBlob([...good, [1003, 6, ["1"]]]))).toBeUndefined(); // epoch of the wrong type
    // directory index out of range; basename and index counts differ
    expect(parseRpmHeader(rpmBlob([...good, [1117, 8, ["a"]], [1118, 8, ["/"]], [1116, 4, [1]]]))).toBeUndefined();
    expect(parseRpmHeader(rpmBlob([...good, [1117, 8, ["a", "b"]], [1118, 8, ["/"]], [1116, 4, [0]]]))).toBeUndefined();
    expect(parseRpmHeader(new Uint8Array(0))).toBeUndefined();
    expect(parseRpmHeader(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined();
    expect(parseRpmHeader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
    const unterminated = rpmBlob(good);
    unterminated[unterminated.length - 1] = 0x41; // release string loses its NUL
    expect(parseRpmHeader(unterminated)).toBeUndefined();
    const dangling = rpmBlob(good);
    new DataView(dangling.buffer).setUint32(8 + 8, 0x7fffffff); // NAME offset past the data
    expect(parseRpmHeader(dangling)).toBeUndefined();
  });
});

const hasRpm = Bun.which("rpmbuild") !== null && Bun.which("rpm") !== null;
describe.skipIf(!hasRpm)("rpm sqlite database (needs rpm and rpmbuild)", () => {
  const dbDir = `${tmp}/rpmdb`;
  const rpmDb = `${dbDir}/rpmdb.sqlite`;
  const evr = "2:1.2.3-4";

  const top = `${tmp}/rpmbuild`;
  const db = ["--dbpath", dbDir, "--define", "_db_backend sqlite"];

  /** Builds a noarch rpm whose %install runs `install` in the build root; returns its file. */
  function buildRpm(name: string, header: string, install: string, files: string): string {
    mkdirSync(`${top}/SPECS`, { recursive: true });
    const spec = `${top}/SPECS/${name}.spec`;
    writeFileSync(
      spec,
      `Name: ${name}
${header}
Summary: kflowd package-version test
License: MIT
BuildArch: noarch

%description
Test package for kflowd's package-version cache.

%install
cd %{buildroot}
${install}

%files
${files}
`,
    );
    run("rpmbuild", "--define", `_topdir ${top}`, "-bb", spec);
    const field = (key: string): string => header.match(new RegExp(`${key}: (\\S+)`))![1]!;
    return `${top}/RPMS/noarch/${name}-${field("Version")}-${field("Release")}.noarch.rpm`;
  }

  beforeAll(() => {
    const rpmFile = buildRpm(
      "kflowd-test-tool",
      "Version: 1.2.3\nRelease: 4\nEpoch: 2",
      `mkdir -p usr/bin usr/lib64 usr/libexec/kflowd-test usr/share/kflowd-test
printf '#!/bin/sh\\necho test\\n' > usr/bin/kflowd-test-tool
chmod 755 usr/bin/kflowd-test-tool
echo lib > usr/lib64/libkflowdtest.so.1
echo helper > usr/libexec/kflowd-test/helper
echo data > usr/share/kflowd-test/data`,
      "/usr/bin/kflowd-test-tool\n/usr/lib64/libkflowdtest.so.1\n/usr/libexec/kflowd-test\n/usr/share/kflowd-test",
    );
    mkdirSync(dbDir, { recursive: true });
    run("rpm", ...db, "--initdb");
    run("rpm", ...db, "-i", "--justdb", "--nodeps", "--noscripts", rpmFile);
  }, 60_000);

  test("the installed package's files have VERSION-RELEASE with its epoch", async () => {
    expect(existsSync(rpmDb)).toBe(true);
    expect(run("rpm", "--dbpath", dbDir, "-q", "--qf", "%{EVR}", "kflowd-test-tool")).toBe(evr);
    const pv = await PackageVersions.load({ dpkgDir: `${tmp}/no-dpkg`, rpmDb });
    expect(pv.fileVersion("/usr/bin/kflowd-test-tool")).toBe(evr);
    expect(pv.fileVersion("/bin/kflowd-test-tool")).toBe(evr);
    expect(pv.exeVersion("kflowd-test-tool")).toBe(evr);
    expect(pv.fileVersion("/usr/lib64/libkflowdtest.so.1")).toBe(evr);
    expect(pv.fileVersion("/lib64/libkflowdtest.so.1")).toBe(evr);
    expect(pv.exeVersion("helper")).toBe(evr);
    expect(pv.fileVersion("/usr/libexec/kflowd-test")).toBe(""); // a directory
    expect(pv.fileVersion("/usr/share/kflowd-test/data")).toBe(""); // not selected
    expect(pv.size).toBe(3);
    expect(pv.refresh()).toBe(false); // reading the database does not look like a change
  });

  test("corrupt blobs are skipped, never thrown", async () => {
    const copy = `${tmp}/rpmdb-corrupt`;
    mkdirSync(copy);
    copyFileSync(rpmDb, `${copy}/rpmdb.sqlite`);
    const db = new Database(`${copy}/rpmdb.sqlite`);
    const good = db.query<{ blob: Uint8Array }, []>("SELECT blob FROM Packages").get()!.blob;
    const next = prng(0x6b666c77);
    const insert = db.prepare("INSERT INTO Packages (blob) VALUES (?)");
    insert.run(Uint8Array.from({ length: 512 }, next));
    insert.run(good.subarray(0, good.length - 7));
    insert.run(good.subarray(0, 12));
    insert.run("not a blob");
    insert.run(new Uint8Array([0, 0, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]));
    db.close();
    const withGood = await PackageVersions.load({ dpkgDir: `${tmp}/no-dpkg`, rpmDb: `${copy}/rpmdb.sqlite` });
    expect(withGood.fileVersion("/usr/bin/kflowd-test-tool")).toBe(evr);
    expect(withGood.size).toBe(3);

    // the only real package overwritten with random bytes
    const rw = new Database(`${copy}/rpmdb.sqlite`);
    rw.run("UPDATE Packages SET blob = ? WHERE blob = ?", [Uint8Array.from({ length: good.length }, next), good]);
    rw.close();
    const corrupt = await PackageVersions.load({ dpkgDir: `${tmp}/no-dpkg`, rpmDb: `${copy}/rpmdb.sqlite` });
    expect(corrupt.size).toBe(0);
    expect(corrupt.fileVersion("/usr/bin/kflowd-test-tool")).toBe("");

    // not an sqlite file at all
    writeFileSync(`${copy}/garbage.sqlite`, Uint8Array.from({ length: 8192 }, next));
    const garbage = await PackageVersions.load({ dpkgDir: `${tmp}/no-dpkg`, rpmDb: `${copy}/garbage.sqlite` });
    expect(garbage.size).toBe(0);
  });

  test("the parser is total on truncated and mutated copies of a real header", () => {
    const db = new Database(rpmDb, { readonly: true });
    const good = db.query<{ blob: Uint8Array }, []>("SELECT blob FROM Packages").get()!.blob;
    db.close();
    expect(parseRpmHeader(good)?.evr).toBe(evr);
    for (let length = 0; length < good.length; length++) {
      expect(parseRpmHeader(good.subarray(0, length))).toBeUndefined();
    }
    const next = prng(12345);
    let parsed = 0;
    for (let i = 0; i < 5000; i++) {
      const mutated = Uint8Array.from(good);
      for (let flips = 1 + (next() % 4); flips > 0; flips--) {
        mutated[((next() << 8) | next()) % mutated.length] = next();
      }
      if (parseRpmHeader(mutated) !== undefined) parsed++;
    }
    expect(parsed).toBeGreaterThan(0); // most mutations hit bytes the cache does not read
  });

  // last: changes the database the other tests read
  test("refresh() picks up an installed and an erased package", async () => {
    const pv = await PackageVersions.load({ dpkgDir: `${tmp}/no-dpkg`, rpmDb });
    const second = buildRpm(
      "kflowd-test-second",
      "Version: 7.0\nRelease: 1.el9",
      "mkdir -p usr/sbin && echo x > usr/sbin/kflowd-second && chmod 755 usr/sbin/kflowd-second",
      "/usr/sbin/kflowd-second",
    );
    run("rpm", ...db, "-i", "--justdb", "--nodeps", "--noscripts", second);
    expect(pv.refresh()).toBe(true);
    await pv.reloaded;
    expect(pv.exeVersion("kflowd-second")).toBe("7.0-1.el9");
    expect(pv.fileVersion("/usr/bin/kflowd-test-tool")).toBe(evr);
    expect(pv.size).toBe(4);
    run("rpm", ...db, "-e", "--justdb", "--nodeps", "--noscripts", "kflowd-test-tool");
    expect(pv.refresh()).toBe(true);
    await pv.reloaded;
    expect(pv.fileVersion("/usr/bin/kflowd-test-tool")).toBe("");
    expect(pv.exeVersion("kflowd-second")).toBe("7.0-1.el9");
    expect(pv.size).toBe(1);
  });
});
