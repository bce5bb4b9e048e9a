/**
 * Preload for profiling the agent's JavaScript: BUN_OPTIONS="--preload <this file>" with
 * KFLOWD_PROFILE_OUT=<json file>. Starts JSC's sampling profiler when the agent prints
 * its start-up line, i.e. after the BPF programs are loaded (the profiler's signals make
 * the verifier give up with EAGAIN, which is also why --cpu-prof, sampling from the
 * first instruction, cannot be used), and at exit writes the self and inclusive sample
 * counts per function.
 */
import * as jsc from "bun:jsc";
import { writeFileSync } from "node:fs";

/** present at run time in Bun 1.4, missing from bun-types */
const { startSamplingProfiler, samplingProfilerStackTraces } = jsc as unknown as {
  startSamplingProfiler(): void;
  samplingProfilerStackTraces(): unknown;
};

interface Frame {
  name: string;
  sourceURL?: string;
  line: number;
  category: string;
}
interface Traces {
  interval: number;
  traces: { frames: Frame[] }[];
}

const out = process.env.KFLOWD_PROFILE_OUT;
if (out) {
  let started = false;
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    if (!started && String(chunk).includes(" started in terminal mode")) {
      startSamplingProfiler();
      started = true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  process.on("exit", () => {
    if (!started) return;
    const t = samplingProfilerStackTraces() as unknown as Traces;
    const self = new Map<string, number>();
    const total = new Map<string, number>();
    const key = (f: Frame): string =>
      f.sourceURL
        ? `${f.name || "(anonymous)"} ${f.sourceURL.replace(/^.*\/(src|ffi|bench)\//, "$1/")}:${f.line}`
        : `${f.name || "(native)"} [native]`;
    for (const tr of t.traces) {
      const leaf = tr.frames[0];
      if (leaf) self.set(key(leaf), (self.get(key(leaf)) ?? 0) + 1);
      for (const k of new Set(tr.frames.map(key))) total.set(k, (total.get(k) ?? 0) + 1);
    }
    const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]).slice(0, 40);
    writeFileSync(
      out,
      JSON.stringify({ samples: t.traces.length, intervalMs: t.interval * 1000, self: sorted(self), total: sorted(total) }, null, 1),
    );
  });
}
