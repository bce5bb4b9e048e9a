// programRunsSkipped(): the kernel's recursion_misses of the agent's programs, read from
// their fdinfo files as /proc shows them.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { programRunsSkipped } from "../../src/ingest/stats.ts";

const PROG = (misses: number) =>
  `pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\nprog_type:\t26\nprog_jited:\t1\nprog_tag:\t7f3fa4b31c3dc328\nmemlock:\t24576\nprog_id:\t62750\nrun_time_ns:\t0\nrun_cnt:\t0\nrecursion_misses:\t${misses}\nverified_insns:\t35691\n`;

function fdinfo(files: Record<number, string>): string {
  const dir = mkdtempSync(`${tmpdir()}/kflowd-fdinfo-`);
  for (const [fd, text] of Object.entries(files)) writeFileSync(`${dir}/${fd}`, text);
  return dir;
}

describe("program runs skipped by the kernel", () => {
  test("each program's recursion_misses, those with none left out", () => {
    const dir = fdinfo({ 7: PROG(3), 8: PROG(0), 9: PROG(40) });
    const programs = new Map([
      ["sys_enter__file", 7],
      ["sys_exit__file_event", 9],
      ["cgroup_skb__egress", 8],
    ]);
    expect([...programRunsSkipped(programs, dir)]).toEqual([
      ["sys_enter__file", 3],
      ["sys_exit__file_event", 40],
    ]);
  });

  test("kernels before 5.12 do not count (no such line), a descriptor gone: nothing", () => {
    const dir = fdinfo({ 7: PROG(5).replace(/^recursion_misses:.*\n/m, "") });
    expect(
      programRunsSkipped(
        new Map([
          ["a", 7],
          ["b", 99],
        ]),
        dir,
      ).size,
    ).toBe(0);
  });
});
