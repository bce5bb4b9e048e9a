/**
 * Rescuers of syscall programs the kernel skips (bpf/rescue.bpf.h). Where tracepoints
 * run their programs preemptibly (7.0+), a thread preempted inside sys_exit's program
 * makes the kernel skip that program for every other thread on the CPU until it resumes.
 * Once a program that has a rescuer shows skipped runs, the first programs start marking
 * (the object's rescue_on) and the rescuers are attached, once; said on stderr. Looked at
 * after the self-test and at every slow tick: two fdinfo reads.
 */
import type { BpfObject } from "../ffi/bpf.ts";
import { programRunsSkipped } from "./ingest/stats.ts";

/** rescue_on's section in the object: it is alone there (bpf/rescue.bpf.h) */
const RESCUE_ON_SECTION = ".data.rescue";

export class SkipRescue {
  private attached = false;
  /** the programs that have rescuers, and their descriptors */
  private readonly watched: ReadonlyMap<string, number>;

  constructor(
    private readonly object: Pick<BpfObject, "attach" | "setGlobalU32">,
    programs: ReadonlyMap<string, number>,
    private readonly rescuers: ReadonlyMap<string, string>,
    private readonly notice: (line: string) => void = (line) => process.stderr.write(line),
    private readonly skipped: (programs: ReadonlyMap<string, number>) => ReadonlyMap<string, number> = programRunsSkipped,
  ) {
    this.watched = new Map([...programs].filter(([name]) => rescuers.has(name)));
  }

  /** whether the rescuers are attached */
  get active(): boolean {
    return this.attached;
  }

  /**
   * Attaches the rescuers if the kernel has skipped a watched program's run since the
   * start; force: regardless (tests: that a rescuer takes nothing the first program took).
   */
  check(force = false): void {
    if (this.attached || this.watched.size === 0) return;
    const skipped = this.skipped(this.watched);
    if (skipped.size === 0 && !force) return;
    this.attached = true;
    const names = skipped.size ? [...skipped].map(([p, n]) => `${p} (${n})`) : ["none (forced)"];
    try {
      this.object.setGlobalU32(RESCUE_ON_SECTION, 0, 1);
      this.object.attach([...this.watched.keys()].map((p) => this.rescuers.get(p)!));
    } catch (e) {
      this.notice(`kflowd: the kernel skipped runs of ${names.join(", ")}; attaching their rescuers failed: ${(e as Error).message}\n`);
      return;
    }
    this.notice(`kflowd: the kernel skipped runs of ${names.join(", ")} (preempted programs); their rescuers are attached\n`);
  }
}
