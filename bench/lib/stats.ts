/** Medians, ratios and the result rows every benchmark returns. */

/** One line of the results table. */
export interface Row {
  /** benchmark name, e.g. "syscall" */
  readonly bench: string;
  /** what was measured, with its unit, e.g. "getppid ns/call" */
  readonly metric: string;
  /** median without the agent */
  readonly baseline?: number;
  /** median with the agent */
  readonly agent?: number;
  /** median of the per-round ratios agent/baseline (paired rounds) */
  readonly ratio?: number;
  /** smallest and largest per-round ratio: the noise */
  readonly spread?: readonly [number, number];
  /**
   * median per-round ratio of the CPU time the workload's own processes used (the
   * hooks run in their context): less sensitive than wall time to other jobs on the
   * machine, blind to the agent's own CPU
   */
  readonly cpuRatio?: number;
  /** DESIGN.md §8 target this row is checked against, as text */
  readonly target?: string;
  /** whether the target is met; undefined when there is none */
  readonly met?: boolean;
  readonly note?: string;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Paired samples of one metric: baseline and agent value of each round. */
export class Paired {
  readonly baseline: number[] = [];
  readonly agent: number[] = [];

  add(baseline: number, agent: number): void {
    this.baseline.push(baseline);
    this.agent.push(agent);
  }

  ratios(): number[] {
    return this.agent.map((a, i) => a / this.baseline[i]!);
  }

  /** A row with medians, the median paired ratio and its spread. */
  row(bench: string, metric: string, extra: Partial<Row> = {}): Row {
    const r = this.ratios();
    return {
      bench,
      metric,
      baseline: median(this.baseline),
      agent: median(this.agent),
      ratio: median(r),
      spread: [Math.min(...r), Math.max(...r)],
      ...extra,
    };
  }
}

/** Number formatting for tables: 3 significant digits, thousands kept whole. */
export function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || Number.isNaN(x)) return "–";
  if (Math.abs(x) >= 10 ** digits) return Math.round(x).toLocaleString("en-US");
  return Number(x.toPrecision(digits)).toString();
}

export function fmtRatio(r: number | undefined): string {
  return r === undefined || Number.isNaN(r) ? "–" : `${r.toFixed(3)}×`;
}

/** The rows as a Markdown table. */
export function markdownTable(rows: readonly Row[]): string {
  const head = "| bench | metric | baseline | agent | ratio | spread | CPU ratio | target | met | note |";
  const sep = "|---|---|---:|---:|---:|---|---:|---|---|---|";
  const lines = rows.map((r) => {
    const spread = r.spread ? `${r.spread[0].toFixed(2)}–${r.spread[1].toFixed(2)}` : "";
    const met = r.met === undefined ? "" : r.met ? "yes" : "**no**";
    return `| ${r.bench} | ${r.metric} | ${fmt(r.baseline)} | ${fmt(r.agent)} | ${fmtRatio(r.ratio)} | ${spread} | ${fmtRatio(r.cpuRatio)} | ${r.target ?? ""} | ${met} | ${r.note ?? ""} |`;
  });
  return [head, sep, ...lines].join("\n");
}
