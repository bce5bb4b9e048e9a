// The kernel matrix: the compiled agent and one scenario on Debian kernels under QEMU TCG
// (targets.ts: 5.10, 6.1 and 6.12 on amd64, 6.1 and 6.12 on arm64, and the newest of
// trixie-backports and of unstable on both), and on the running kernel. Prints
// kernel x feature -> tier, pass/fail, and fails on any failed check.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { $ } from "bun";
import { hostBpfArch } from "../../bpf/build.ts";
import { agentPath, buildAgent } from "../../scripts/build.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { boot, buildFileops, buildInitramfs, buildUringOps, kernelImage } from "./guest.ts";
import {
  accountedForSkips,
  type Check,
  cgroupChecks,
  fileChecks,
  fileopsChecks,
  parseOutput,
  pathOpChecks,
  socketChecks,
  uringChecks,
} from "./scenario.ts";
import { sysroot } from "../../scripts/sysroot.ts";
import { KERNELS } from "./targets.ts";

const skip = skipWithoutKernel("kernel matrix");
const PAYLOAD = new URL("./payload/", import.meta.url).pathname;
const GUEST_DIR = "/tmp/kt";
const PORT = 18080;

interface Row {
  kernel: string;
  tiers: Map<string, string>;
  checks: Check[];
  seconds: number;
}
const rows: Row[] = [];

function printMatrix(): void {
  const features = [...new Set(rows.flatMap((r) => r.checks.map((c) => c.feature)))];
  const lines = ["", "kernel matrix (feature: tier, checks passed)"];
  for (const r of rows) {
    const cells = features.map((f) => {
      const cs = r.checks.filter((c) => c.feature === f);
      const passed = cs.filter((c) => c.ok).length;
      return `${f}: ${r.tiers.get(f) ?? "-"} ${passed}/${cs.length} ${passed === cs.length ? "PASS" : "FAIL"}`;
    });
    lines.push(`  ${r.kernel.padEnd(34)} ${cells.join("  ")}  (${r.seconds.toFixed(1)} s)`);
    for (const c of r.checks.filter((c) => !c.ok)) lines.push(`      failed: ${c.name}: ${c.detail}`);
  }
  console.log(lines.join("\n"));
}

function record(kernel: string, output: string, dir: string, seconds: number, guest: boolean): Check[] {
  const out = parseOutput(output);
  const checks = accountedForSkips(out, [
    ...fileChecks(out, dir),
    ...pathOpChecks(out, dir),
    ...fileopsChecks(out, dir, "64"),
    ...fileopsChecks(out, dir, "32"),
    ...socketChecks(out, PORT, guest),
    ...cgroupChecks(out, dir),
    ...uringChecks(out, dir),
  ]);
  rows.push({ kernel, tiers: out.tiers, checks, seconds });
  return checks;
}

describe.skipIf(skip)("kernel matrix", () => {
  const workDir = mkdtempSync(`${tmpdir()}/kflowd-matrix-`);
  const initrds = new Map<string, Promise<string>>();

  beforeAll(async () => {
    // the host's agent is built by the test command; the other architecture here
    for (const arch of ["x86", "arm64"] as const) {
      if (arch !== hostBpfArch() && KERNELS.some((k) => k.arch === (arch === "x86" ? "amd64" : "arm64"))) {
        await buildAgent(arch);
      }
    }
  }, 600_000);

  afterAll(() => printMatrix());

  test(`local kernel ${release()}`, async () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-scenario-`);
    // the guests' busybox, so that the same tools run here
    const bin = mkdtempSync(`${tmpdir()}/kflowd-busybox-`);
    const busybox = `${await sysroot(process.arch === "arm64" ? "arm64" : "amd64")}/bin/busybox`;
    await $`${busybox} --install -s ${bin}`;
    const [fileops64, fileops32] = await buildFileops(process.arch === "arm64" ? "arm64" : "amd64", bin);
    const uringOps = await buildUringOps(process.arch === "arm64" ? "arm64" : "amd64", bin);
    const t0 = performance.now();
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      KFLOWD: agentPath(hostBpfArch()),
      SCENARIO_DIR: dir,
      SCENARIO_PORT: String(PORT),
      FILEOPS64: fileops64,
      FILEOPS32: fileops32,
      URINGOPS: uringOps,
    };
    const output = await $`sh ${PAYLOAD}run.sh`.env(env).text();
    const checks = record(`local ${release()}`, output, dir, (performance.now() - t0) / 1000, false);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  }, 120_000);

  for (const k of KERNELS) {
    test(`Debian ${k.id}`, async () => {
      const [image, pkg] = await kernelImage(k);
      const bpfArch = k.arch === "amd64" ? "x86" : "arm64";
      if (!initrds.has(k.arch)) initrds.set(k.arch, buildInitramfs(k.arch, agentPath(bpfArch), workDir));
      const run = await boot(k.arch, image, await initrds.get(k.arch)!, workDir);
      const checks = record(`${k.id} ${pkg.replace(/^linux-image-/, "")}`, run.output, GUEST_DIR, run.seconds, true);
      // KFLOWD_MATRIX_OUTPUT=1: every guest's whole output, to look into what a check saw
      if (process.env.KFLOWD_MATRIX_OUTPUT || run.rc !== 0)
        console.log(`${k.id} console tail:\n${run.console.slice(-2000)}\noutput:\n${run.output}`);
      expect(run.rc).toBe(0);
      expect(checks.filter((c) => !c.ok)).toEqual([]);
    }, 600_000);
  }
});
