/**
 * Quick BPF-per-operation check for kernel-side work: node_modules/.bin/bun bench/bpf-quick.ts
 * [workload...] with workloads getppid, write-null, tcp-rw (loopback TCP write+read), udp-socket
 * (socket+close), conns (kfgen TCP connect+accept+close);
 * one fresh agent, bpf_stats on, per program runs and ns per operation. KFLOWD_QUICK_AGENT
 * names another kflowd executable to measure instead of dist/kflowd.
 */
import { Agent, prepareAgent } from "./lib/agent.ts";
import { costTable, progCosts, progNames, progSnapshot, withBpfStats } from "./lib/bpf-stats.ts";
import { cProgram, run, sleep } from "./lib/sys.ts";

const WORKLOADS: Record<string, () => Promise<[number, string]>> = {
  getppid: async () => (await run([await cProgram("sysloop"), "getppid", "2000000"]), [2_000_000, "call"]),
  "write-null": async () => (await run([await cProgram("sysloop"), "write-null", "1000000"]), [1_000_000, "call"]),
  "tcp-rw": async () => (await run([await cProgram("sysloop"), "tcp-rw", "200000"]), [200_000, "write+read"]),
  "udp-socket": async () => (await run([await cProgram("sysloop"), "udp-socket", "200000"]), [200_000, "socket+close"]),
  conns: async () => [Number((await run([await cProgram("kfgen"), "conns", "5000", "2"])).stdout.split(" ")[0]), "connection"],
};

prepareAgent();
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(WORKLOADS);
await withBpfStats(async () => {
  // KFLOWD_QUICK_AGENT: another kflowd executable (e.g. the build before a change)
  const agent = await Agent.start({ agent: process.env.KFLOWD_QUICK_AGENT || undefined });
  try {
    await sleep(300);
    const names = await progNames();
    for (const name of chosen) {
      const before = progSnapshot(agent.pid);
      const [ops, unit] = await WORKLOADS[name]!();
      console.log(`\n**${name}** (${ops} ${unit}s)\n\n${costTable(progCosts(before, progSnapshot(agent.pid), names, ops), unit)}`);
    }
  } finally {
    await agent.stop();
  }
});
