/**
 * Start-up and footprint: ms from spawn to the " started in terminal mode" line (the
 * baseline is `kflowd --version`: the same executable starting Bun and exiting), the
 * start-up phases from one run under strace (Bun start, BPF_PROG_LOAD per program, the
 * rest), idle RSS and CPU against an idle program compiled the same way (Bun's floor),
 * and the kernel memory of all maps, the ring and the programs.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { AGENT, Agent } from "./lib/agent.ts";
import type { Bench, Ctx } from "./lib/bench.ts";
import { kernelMemory, MiB } from "./lib/kmem.ts";
import { median, type Row } from "./lib/stats.ts";
import {
  BIN,
  bpftoolProgs,
  debianTool,
  heldObjects,
  type Memory,
  memory,
  memorySplit,
  type MemorySplit,
  run,
  sleep,
  WORK,
} from "./lib/sys.ts";

const IDLE_SECONDS = 10;

/** Compiles lib/idle.ts like the agent is compiled; returns its RSS after a few seconds idle. */
async function bunFloor(): Promise<Memory & { split: MemorySplit }> {
  const src = resolve(import.meta.dir, "lib/idle.ts");
  const out = join(BIN, "bun-idle");
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    await run([process.execPath, "build", "--compile", src, "--outfile", out]);
  }
  const p = Bun.spawn([out], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  await sleep(IDLE_SECONDS * 1000);
  const m = { ...memory(p.pid), split: memorySplit(p.pid) };
  p.kill("SIGTERM");
  await p.exited;
  return m;
}

interface Phases {
  /** ms from execve to the first bpf() call */
  bunStart: number;
  /** ms in BPF_PROG_LOAD, in all and per program (largest first) */
  progLoad: number;
  perProg: [string, number][];
  /** ms from execve to the start-up line */
  total: number;
}

/** One start under strace: where the time to attached goes. */
async function phases(): Promise<Phases> {
  const strace = await debianTool("strace", "strace");
  const log = join(WORK, "startup.strace");
  const p = Bun.spawn(
    [
      strace,
      "-f",
      "-ttt",
      "-T",
      "-s",
      "200",
      "-e",
      "trace=execve,bpf,write,writev,pwritev2,sendto,sendmsg",
      "-o",
      log,
      AGENT,
      "-o",
      "json-min",
    ],
    {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    },
  );
  let text = "";
  let stopped = false;
  const decoder = new TextDecoder();
  const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
  for await (const chunk of p.stderr) {
    text += decoder.decode(chunk, { stream: true });
    const pid = Number(/with PID (\d+)/.exec(text)?.[1]);
    if (!stopped && text.includes(" started in terminal mode") && pid > 0) {
      stopped = true;
      process.kill(pid, "SIGTERM"); // the agent, child of strace
    }
  }
  await p.exited;
  clearTimeout(timer);
  const lines = (await Bun.file(log).text()).split("\n");
  const ts = (l: string): number => Number(l.trim().split(/\s+/)[1]) * 1000; // "PID  SECONDS.MICROS call"
  const exec = lines.find((l) => l.includes("execve("));
  const firstBpf = lines.find((l) => l.includes(" bpf("));
  const banner = lines.find((l) => l.includes("started in terminal mode"));
  const perProg = new Map<string, number>();
  let progLoad = 0;
  for (const l of lines) {
    if (!l.includes("BPF_PROG_LOAD")) continue;
    const name = /prog_name="([^"]*)"/.exec(l)?.[1] ?? "?";
    const ms = Number(/<([\d.]+)>\s*$/.exec(l)?.[1] ?? 0) * 1000;
    progLoad += ms;
    perProg.set(name, (perProg.get(name) ?? 0) + ms);
  }
  if (!exec || !firstBpf || !banner) throw new Error(`strace log ${log} lacks execve, bpf or the start-up line`);
  return {
    bunStart: ts(firstBpf) - ts(exec),
    progLoad,
    perProg: [...perProg].sort((a, b) => b[1] - a[1]),
    total: ts(banner) - ts(exec),
  };
}

export const startup: Bench = {
  name: "startup",
  title: "Start-up time, idle RSS and CPU, kernel memory",
  async run(ctx: Ctx): Promise<Row[]> {
    const version: number[] = [];
    const attach: number[] = [];
    for (let r = 0; r < ctx.rounds; r++) {
      const t0 = performance.now();
      await run([AGENT, "--version"]);
      version.push(performance.now() - t0);
      const agent = await Agent.start();
      attach.push(agent.startMs);
      await agent.stop();
    }
    const ph = await phases();
    ctx.log(`  startup: ${ctx.rounds} starts and one under strace done; idle runs of ${IDLE_SECONDS} s`);
    const floor = await bunFloor();
    const agent = await Agent.start();
    await sleep(1000);
    const cpu0 = agent.cpu();
    await sleep(IDLE_SECONDS * 1000);
    const idleCpu = (agent.cpu() - cpu0) / IDLE_SECONDS;
    const mem = agent.memory();
    const split = memorySplit(agent.pid);
    const k = await kernelMemory(agent.pid);
    const held = heldObjects(agent.pid);
    const names = new Map((await bpftoolProgs()).map((p) => [p.id, p.name ?? String(p.id)] as const));
    const stopped = await agent.stop();
    const attachMs = median(attach);
    const ring = k.maps.find((m) => m.type === "ringbuf");
    const mapList = [...k.maps]
      .sort((a, b) => b.slabFull - a.slabFull)
      .map((m) => `${m.name} ${MiB(m.memlock).toFixed(2)}/${MiB(m.slabFull).toFixed(2)}`)
      .join(", ");
    const verified = [...held.progStats]
      .map(([id, s]) => [names.get(id) ?? String(id), s.verifiedInsns] as const)
      .sort((a, b) => b[1] - a[1]);
    ctx.details.push(
      [
        "### Start-up phases (one start under strace)",
        "",
        "| phase | ms |",
        "|---|---:|",
        `| execve → first bpf() (Bun runtime, agent code, BTF probing) | ${ph.bunStart.toFixed(0)} |`,
        `| BPF_PROG_LOAD, all programs (verifier) | ${ph.progLoad.toFixed(0)} |`,
        ...ph.perProg.slice(0, 5).map(([n, ms]) => `| &nbsp;&nbsp;${n} | ${ms.toFixed(0)} |`),
        `| rest (maps, attach, cgroup, iterators, banner) | ${(ph.total - ph.bunStart - ph.progLoad).toFixed(0)} |`,
        `| execve → start-up line | ${ph.total.toFixed(0)} |`,
        "",
        "Instructions the verifier processed per program (verified_insns): " +
          verified
            .slice(0, 6)
            .map(([n, v]) => `${n} ${v.toLocaleString("en-US")}`)
            .join(", ") +
          ".",
        "",
        `Kernel memory per map, now / every entry in use (slab), MiB: ${mapList}.`,
        "",
        `### Idle memory split (after ${IDLE_SECONDS + 1} s; /proc/PID/status and /proc/PID/smaps), MiB`,
        "",
        "| | agent | idle Bun program |",
        "|---|---:|---:|",
        `| VmRSS | ${mem.rssMiB.toFixed(1)} | ${floor.rssMiB.toFixed(1)} |`,
        `| RssAnon (heap, JIT, stacks) | ${mem.anonMiB.toFixed(1)} | ${floor.anonMiB.toFixed(1)} |`,
        `| RssFile | ${mem.fileMiB.toFixed(1)} | ${floor.fileMiB.toFixed(1)} |`,
        `| &nbsp;&nbsp;of it the executable's pages | ${split.exeRssMiB.toFixed(1)} | ${floor.split.exeRssMiB.toFixed(1)} |`,
        `| &nbsp;&nbsp;of it shared libraries and the extracted shim | ${split.libRssMiB.toFixed(1)} | ${floor.split.libRssMiB.toFixed(1)} |`,
        `| &nbsp;&nbsp;of it anon_inode:bpf-map (Rss; the ring's data pages mapped twice) | ${split.bpfMapRssMiB.toFixed(1)} | – |`,
        `| &nbsp;&nbsp;the same as Pss (the ring once) | ${split.bpfMapPssMiB.toFixed(1)} | – |`,
        `| VmRSS − the bpf-map mappings | ${(mem.rssMiB - split.bpfMapRssMiB).toFixed(1)} | ${floor.rssMiB.toFixed(1)} |`,
        `| VmHWM (peak) | ${mem.hwmMiB.toFixed(1)} | ${floor.hwmMiB.toFixed(1)} |`,
      ].join("\n"),
    );
    return [
      {
        bench: "startup",
        metric: "start to attached, ms",
        baseline: median(version),
        agent: attachMs,
        ratio: attachMs / median(version),
        target: "≤ 1000 ms",
        met: attachMs <= 1000,
        note: `baseline: kflowd --version (Bun start + exit); range ${Math.min(...attach).toFixed(0)}–${Math.max(...attach).toFixed(0)} ms; verifier ${ph.progLoad.toFixed(0)} ms of ${ph.total.toFixed(0)} under strace (${ph.perProg[0]?.[0]} ${ph.perProg[0]?.[1].toFixed(0)} ms)`,
      },
      {
        bench: "startup",
        metric: `idle RSS after ${IDLE_SECONDS + 1} s, MiB`,
        baseline: floor.rssMiB,
        agent: mem.rssMiB,
        ratio: mem.rssMiB / floor.rssMiB,
        target: "≤ 60 MB (57.2 MiB)",
        met: mem.rssMiB <= 60 / 1.048576,
        note: `baseline: an idle Bun program compiled the same way; agent anon ${mem.anonMiB.toFixed(1)} + file ${mem.fileMiB.toFixed(1)} MiB (idle program ${floor.anonMiB.toFixed(1)} + ${floor.fileMiB.toFixed(1)}), of the file part ${split.bpfMapRssMiB.toFixed(1)} MiB the ring mapped twice; peak ${mem.hwmMiB.toFixed(1)} MiB`,
      },
      {
        bench: "startup",
        metric: "idle RSS without the ring's mapping, MiB",
        baseline: floor.rssMiB,
        agent: mem.rssMiB - split.bpfMapRssMiB,
        ratio: (mem.rssMiB - split.bpfMapRssMiB) / floor.rssMiB,
        note: `VmRSS − Rss of anon_inode:bpf-map (${split.bpfMapRssMiB.toFixed(1)} MiB: kernel memory, already counted below, mapped twice)`,
      },
      {
        bench: "startup",
        metric: "idle agent CPU, % of a core",
        agent: idleCpu * 100,
        note: `${stopped.lines} records of background activity in ${IDLE_SECONDS + 1} s`,
      },
      {
        bench: "startup",
        metric: "kernel memory now (maps + ring), MiB",
        agent: MiB(k.mapBytes),
        note: `${k.maps.length} maps, ring ${MiB(ring?.memlock ?? 0).toFixed(2)} MiB; ${k.progs} programs ${MiB(k.progBytes).toFixed(2)} MiB more`,
      },
      {
        bench: "startup",
        metric: "kernel memory, every map full (slab), MiB",
        agent: MiB(k.slabBytesFull + k.progBytes),
        target: "≤ 64 MiB",
        met: MiB(k.slabBytesFull + k.progBytes) <= 64,
        note: `maps and programs; kernel accounting (bytes_memlock) when full ${MiB(k.mapBytesFull + k.progBytes).toFixed(1)} MiB`,
      },
    ];
  },
};
