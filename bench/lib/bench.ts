/**
 * The shape of a benchmark and the paired-rounds driver: every round measures the
 * workload once without and once with the agent, alternating which goes first so that
 * drift (caches, other people's jobs on this shared machine) hits both sides alike.
 */
import { Agent, type AgentOptions, type AgentResult } from "./agent.ts";
import { median, type Row } from "./stats.ts";
import { foreignAgents, quiesce, sleep } from "./sys.ts";

export interface Ctx {
  /** paired rounds per measurement */
  readonly rounds: number;
  /** progress lines (stderr) */
  log(line: string): void;
  /** remarks for the report: noise, skipped parts */
  readonly notes: string[];
  /** Markdown sections with detail tables, printed after the results table */
  readonly details: string[];
}

export interface Bench {
  readonly name: string;
  readonly title: string;
  run(ctx: Ctx): Promise<Row[]>;
}

/** What an agent-side sample cost the agent. */
export interface AgentSample {
  /** agent CPU seconds while the workload ran */
  readonly cpuSec: number;
  /** workload wall seconds (the warm-up not included) */
  readonly wallSec: number;
  /** wall seconds of the warm-up load before the sample (0 without one) */
  readonly warmSec: number;
  readonly rssMiB: number;
  readonly result: AgentResult;
}

export interface Rounds<T> {
  readonly baseline: T[];
  readonly agent: T[];
  readonly samples: AgentSample[];
  /** per round: whether someone else's kflowd was attached during either sample */
  readonly contaminated: boolean[];
  /** the warm-up loads' own results (when there is a warm-up): the first seconds of a fresh agent */
  readonly cold: { readonly baseline: T[]; readonly agent: T[] };
}

/**
 * Runs `work` rounds × 2 times, alternating the order of the baseline and the agent
 * sample. The agent is started for each agent sample and settles 300 ms first. Before
 * a baseline sample it waits (up to 10 s, 30 s per invocation) until no other kflowd is attached; a round
 * during which one was (before or after either sample) is marked contaminated.
 * With `warmUp`, each sample (both sides) first runs that load and then `work`: `work`
 * measures the agent warmed up (its JIT done), the warm-up's results (`cold`) its first
 * seconds; the agent's CPU is taken over `work` alone.
 */
export async function pairedRounds<T>(
  ctx: Ctx,
  label: string,
  work: (agent: Agent | undefined) => Promise<T>,
  agentOpts: AgentOptions = {},
  warmUp?: () => Promise<T>,
): Promise<Rounds<T>> {
  const cold = { baseline: [] as T[], agent: [] as T[] };
  const out: Rounds<T> = { baseline: [], agent: [], samples: [], contaminated: [], cold };
  for (let r = 0; r < ctx.rounds; r++) {
    const order = r % 2 === 0 ? [false, true] : [true, false];
    let foreign = false;
    for (const withAgent of order) {
      if (!withAgent) {
        if ((await quiesce()) > 0) foreign = true;
        if (warmUp) cold.baseline.push(await warmUp());
        out.baseline.push(await work(undefined));
        if ((await foreignAgents()) > 0) foreign = true;
        continue;
      }
      const agent = await Agent.start(agentOpts);
      await sleep(300);
      if ((await foreignAgents([agent.pid])) > 0) foreign = true;
      let value: T;
      let warmSec = 0;
      let cpu0 = 0;
      let t0 = 0;
      try {
        if (warmUp) {
          const w0 = performance.now();
          cold.agent.push(await warmUp());
          warmSec = (performance.now() - w0) / 1000;
        }
        cpu0 = agent.cpu();
        t0 = performance.now();
        value = await work(agent);
      } catch (e) {
        await agent.stop();
        throw e;
      }
      const wallSec = (performance.now() - t0) / 1000;
      const cpuSec = agent.cpu() - cpu0;
      const { rssMiB } = agent.memory();
      if ((await foreignAgents([agent.pid])) > 0) foreign = true;
      const result = await agent.stop();
      out.agent.push(value);
      out.samples.push({ cpuSec, wallSec, warmSec, rssMiB, result });
    }
    out.contaminated.push(foreign);
    ctx.log(`  ${label}: round ${r + 1}/${ctx.rounds} done${foreign ? " (another kflowd was attached)" : ""}`);
  }
  const n = out.contaminated.filter(Boolean).length;
  if (n) ctx.notes.push(`${label}: another kflowd (someone else's test or agent) was attached during ${n} of ${ctx.rounds} rounds`);
  return out;
}

/** The warm-up loads' results as rounds of their own (for pairedRow). */
export function coldRounds<T>(r: Rounds<T>): Rounds<T> {
  return { ...r, baseline: r.cold.baseline, agent: r.cold.agent };
}

/**
 * One metric's paired values, from the clean rounds when at least 3 (or all rounds)
 * are clean, else from all rounds; `mixed` says the second case happened.
 */
export function pick<T>(r: Rounds<T>, f: (t: T) => number): { b: number[]; a: number[]; mixed: boolean } {
  const clean = r.contaminated.map((c) => !c);
  const nClean = clean.filter(Boolean).length;
  const use = nClean >= Math.min(3, r.contaminated.length) ? clean : clean.map(() => true);
  return {
    b: r.baseline.filter((_, i) => use[i]).map(f),
    a: r.agent.filter((_, i) => use[i]).map(f),
    mixed: nClean < Math.min(3, r.contaminated.length) && nClean < r.contaminated.length,
  };
}

/** A results row from paired values: medians, median per-round ratio and spread. */
export function pairedRow<T>(
  r: Rounds<T>,
  f: (t: T) => number,
  row: Omit<Row, "baseline" | "agent" | "ratio" | "spread" | "cpuRatio">,
  cpu?: (t: T) => number,
): Row & { ratio: number } {
  const { b, a, mixed } = pick(r, f);
  const ratios = a.map((x, i) => x / b[i]!);
  let cpuRatio: number | undefined;
  if (cpu) {
    const c = pick(r, cpu);
    cpuRatio = median(c.a.map((x, i) => x / c.b[i]!));
  }
  const used = b.length < r.baseline.length ? ` (${b.length} clean rounds of ${r.baseline.length})` : "";
  const note = [row.note, used && `medians${used}`, mixed && "rounds contaminated by another kflowd"].filter(Boolean).join("; ");
  return {
    ...row,
    baseline: median(b),
    agent: median(a),
    ratio: median(ratios),
    spread: [Math.min(...ratios), Math.max(...ratios)],
    cpuRatio,
    note: note || undefined,
  };
}

/**
 * The agent's CPU per record it printed (every process's records), µs, median over the
 * samples: its CPU share during the measured load over its record rate (taken over the
 * warm-up and the load together: the counter sees only the total).
 */
export function agentUsPerRecord(samples: readonly AgentSample[]): number {
  return median(samples.map((x) => ((x.cpuSec / x.wallSec) * 1e6) / (x.result.lines / (x.wallSec + x.warmSec))));
}

/**
 * Records and losses over the samples, as a note: the agent's loss counters summed by
 * name, only those that are not zero.
 */
export function lossNote(samples: readonly AgentSample[]): string {
  const records = samples.reduce((s, x) => s + x.result.lines, 0);
  const byName = new Map<string, number>();
  for (const x of samples) {
    for (const part of x.result.lostText.split(", ")) {
      const m = /^(.*?) (\d+)$/.exec(part.trim());
      if (m && !/checksum|UDP/i.test(m[1]!)) byName.set(m[1]!, (byName.get(m[1]!) ?? 0) + Number(m[2]));
    }
  }
  const lost = [...byName].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return `${records} records, ${lost.length ? `lost: ${lost.join(", ")}` : "0 lost"}`;
}
