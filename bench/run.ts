/**
 * Runs the benchmarks: node_modules/.bin/bun bench/run.ts [--rounds N] [name...]
 * Names: startup syscall churn http nginx floor macro throughput context profile uring (default: all, in
 * this order; nginx-bpf only when named: the BPF-per-connection phase of nginx alone; context needs KFLOWD_BENCH_BASELINE, another kflowd executable). Root only. Each benchmark measures baseline and agent in the same
 * invocation; the table is printed at the end (Markdown) and the rows are written to
 * /tmp/kflowd-bench/results.json.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { churn } from "./churn.ts";
import { floor } from "./floor.ts";
import { context } from "./context.ts";
import { http } from "./http.ts";
import type { Bench, Ctx } from "./lib/bench.ts";
import { AGENT, prepareAgent } from "./lib/agent.ts";
import { markdownTable, type Row } from "./lib/stats.ts";
import { kflowdProcesses, loadAverage, run, WORK } from "./lib/sys.ts";
import { macro } from "./macro.ts";
import { nginx, nginxBpf } from "./nginx.ts";
import { profile } from "./profile.ts";
import { startup } from "./startup.ts";
import { syscall } from "./syscall.ts";
import { throughput } from "./throughput.ts";
import { uring } from "./uring.ts";

const ALL: readonly Bench[] = [startup, syscall, churn, http, nginx, floor, macro, throughput, context, profile, uring];
/** benchmarks run only when named */
const EXTRA: readonly Bench[] = [nginxBpf];

function usage(): never {
  console.error(`usage: bun bench/run.ts [--rounds N] [${[...ALL, ...EXTRA].map((b) => b.name).join("|")} ...]`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let rounds = 5;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--rounds") rounds = Number(args[++i]);
    else if (a === "-h" || a === "--help") usage();
    else names.push(a);
  }
  if (!(rounds >= 1)) usage();
  const chosen = names.length ? names.map((n) => [...ALL, ...EXTRA].find((b) => b.name === n) ?? usage()) : ALL;
  if (process.geteuid?.() !== 0) {
    console.error("bench: run as root (the agent loads BPF programs)");
    process.exit(1);
  }
  prepareAgent();
  const built = statSync(AGENT)
    .mtime.toISOString()
    .replace(/\.\d+Z$/, "Z");
  const hash = new Bun.CryptoHasher("sha256").update(readFileSync(AGENT)).digest("hex").slice(0, 12);
  const version = `${(await run([AGENT, "--version"])).stdout.trim()}, dist/kflowd of ${built} (sha256 ${hash}…)`;
  const commit = (await run(["git", "-C", join(import.meta.dir, ".."), "rev-parse", "--short", "HEAD"], { allowFail: true })).stdout.trim();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${(await run(["uname", "-r"])).stdout.trim()}`;
  console.error(`bench: ${version}; repo at ${commit}; ${machine}; load ${loadAverage()}`);

  const notes: string[] = [];
  const others = kflowdProcesses();
  if (others.length) {
    const list = others.map((p) => `${p.pid} (${p.args})`).join("; ");
    console.error(`bench: WARNING: ${others.length} other kflowd process(es) running, their hooks cost every sample: ${list}`);
    notes.push(
      `at the start ${others.length} other kflowd process(es) were running (their BPF programs run in every baseline and agent sample): ${list}`,
    );
  }
  const details: string[] = [];
  const ctx: Ctx = { rounds, notes, details, log: (line) => console.error(line) };
  const rows: Row[] = [];
  const t0 = performance.now();
  for (const b of chosen) {
    const tb = performance.now();
    console.error(`bench: ${b.name}: ${b.title} (load ${loadAverage()})`);
    try {
      rows.push(...(await b.run(ctx)));
    } catch (e) {
      notes.push(`${b.name} failed: ${(e as Error).message}`);
      console.error(`bench: ${b.name} failed:`, e);
    }
    console.error(`bench: ${b.name} took ${((performance.now() - tb) / 1000).toFixed(0)} s`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const table = markdownTable(rows);
  console.log(`kflowd benchmarks: ${version}, commit ${commit}; ${machine}; ${rounds} paired rounds; ${seconds.toFixed(0)} s\n`);
  console.log(table);
  for (const d of details) console.log(`\n${d}`);
  if (notes.length) console.log(`\nNotes:\n${notes.map((n) => `- ${n}`).join("\n")}`);
  writeFileSync(join(WORK, "results.json"), JSON.stringify({ version, commit, machine, rounds, seconds, rows, details, notes }, null, 2));
}

await main();
