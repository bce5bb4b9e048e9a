// SkipRescue (src/rescue.ts): the rescuers are attached once a watched program shows
// skipped runs (or when forced), after rescue_on is set, and said once on stderr.
import { describe, expect, test } from "bun:test";
import { SkipRescue } from "../../src/rescue.ts";

function setup(skips: Map<string, number>, failAttach = false) {
  const calls: string[] = [];
  const notices: string[] = [];
  const object = {
    setGlobalU32(section: string, offset: number, value: number) {
      calls.push(`set ${section}+${offset}=${value}`);
    },
    attach(names: readonly string[]) {
      if (failAttach) throw new Error("attaching sys_enter__rescue: Invalid argument");
      calls.push(`attach ${names.join(",")}`);
    },
  };
  const programs = new Map([
    ["sys_enter__file", 10],
    ["sys_exit__file_event", 11],
    ["cgroup_skb__egress", 12],
  ]);
  const rescuers = new Map([
    ["sys_enter__file", "sys_enter__rescue"],
    ["sys_exit__file_event", "sys_exit__rescue"],
  ]);
  const asked: number[][] = [];
  const rescue = new SkipRescue(
    object,
    programs,
    rescuers,
    (l) => notices.push(l),
    (watched) => {
      asked.push([...watched.values()]);
      return skips;
    },
  );
  return { rescue, calls, notices, asked };
}

describe("skip rescue", () => {
  test("no skips: nothing attached, only the programs with rescuers are looked at", () => {
    const { rescue, calls, asked } = setup(new Map());
    rescue.check();
    rescue.check();
    expect(calls).toEqual([]);
    expect(asked).toEqual([
      [10, 11],
      [10, 11],
    ]);
    expect(rescue.active).toBe(false);
  });

  test("a skip: rescue_on first, then both rescuers, said once; never again", () => {
    const skips = new Map([["sys_exit__file_event", 3]]);
    const { rescue, calls, notices, asked } = setup(skips);
    rescue.check();
    rescue.check();
    expect(calls).toEqual(["set .data.rescue+0=1", "attach sys_enter__rescue,sys_exit__rescue"]);
    expect(notices).toEqual([
      "kflowd: the kernel skipped runs of sys_exit__file_event (3) (preempted programs); their rescuers are attached\n",
    ]);
    expect(asked).toHaveLength(1);
    expect(rescue.active).toBe(true);
  });

  test("forced (tests): attached without skips", () => {
    const { rescue, calls, notices } = setup(new Map());
    rescue.check(true);
    expect(calls).toHaveLength(2);
    expect(notices[0]).toContain("none (forced)");
  });

  test("attaching fails: said once, the agent goes on", () => {
    const { rescue, notices } = setup(new Map([["sys_enter__file", 1]]), true);
    rescue.check();
    rescue.check();
    expect(notices).toEqual([
      "kflowd: the kernel skipped runs of sys_enter__file (1); attaching their rescuers failed: attaching sys_enter__rescue: Invalid argument\n",
    ]);
  });
});
