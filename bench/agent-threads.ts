/**
 * The agent's CPU per record under kfgen's load, per thread: the main JS thread, JSC's
 * helpers (JSCWarmUp, HeapHelper, JITWorker) and mimalloc's scavenger, from
 * /proc/<pid>/task/<tid>/stat (utime + stime). Each round starts the agent
 * (`-o json-min`, stdout through the line counter), warms it up, then runs
 * `kfgen files DIR 12500 3` and `kfgen conns 5000 3` (~105k records) and reads the
 * threads' ticks before and after. Given several kflowd executables, rounds alternate
 * between them. Records per thread are kfgen's (2 per operation); the agent also prints
 * every other process's records on this shared machine. Nothing is asserted.
 *
 *   node_modules/.bin/bun bench/agent-threads.ts [rounds] [kflowd ...]   (root)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent } from "./lib/agent.ts";
import { cProgram, run, sleep } from "./lib/sys.ts";

const DIR = `/dev/shm/kflowd-threads-${process.pid}`;
const TICK_US = 1e6 / 100;

/** CPU ticks per thread name of pid. */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    // the main thread's system part apart (page faults, the ring's and stdout's syscalls)
    if (tid === String(pid)) out.set("(main: system part)", Number(f[12]));
  }
  return out;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

async function kfgen(bin: string, args: string[]): Promise<number> {
  return 2 * Number((await run([bin, ...args])).stdout.trim().split(" ")[0]);
}

const rounds = Number(process.argv[2] ?? 3);
const agents = process.argv.slice(3);
if (agents.length === 0) agents.push("dist/kflowd");
const bin = await cProgram("kfgen");
const results = new Map<string, string[]>();
try {
  for (let r = 0; r < rounds; r++) {
    for (const exe of agents) {
      rmSync(DIR, { recursive: true, force: true });
      mkdirSync(DIR, { recursive: true });
      const agent = await Agent.start({ agent: exe });
      // warm-up: the same load once (JIT tiers)
      await kfgen(bin, ["files", DIR, "12500", "3"]);
      await kfgen(bin, ["conns", "5000", "3"]);
      await sleep(1000);
      const idleRss = rssMiB(agent.pid);
      const t0 = threadTicks(agent.pid);
      let records = await kfgen(bin, ["files", DIR, "12500", "3"]);
      records += await kfgen(bin, ["conns", "5000", "3"]);
      await sleep(300);
      const t1 = threadTicks(agent.pid);
      const rss = rssMiB(agent.pid);
      const res = await agent.stop();
      let total = 0;
      const parts: string[] = [];
      for (const [name, t] of [...t1].sort((a, b) => b[1] - (t0.get(b[0]) ?? 0) - (a[1] - (t0.get(a[0]) ?? 0)))) {
        const us = ((t - (t0.get(name) ?? 0)) * TICK_US) / records;
        if (!name.startsWith("(")) total += us;
        if (us > 0) parts.push(`${name} ${us.toFixed(2)}`);
      }
      const line = `total ${total.toFixed(2)} µs/record: ${parts.join(", ")}; ${records} kfgen records, lost ${res.lost}; RSS ${idleRss.toFixed(0)} MiB after warm-up, ${rss.toFixed(0)} MiB after load`;
      console.log(`round ${r + 1} ${exe}: ${line}`);
      results.set(exe, [...(results.get(exe) ?? []), line]);
    }
  }
} finally {
  rmSync(DIR, { recursive: true, force: true });
}
