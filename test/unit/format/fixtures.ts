/** Pieces of the sample records the formatter tests share. */
import { FsEvent } from "../../../src/records/layout.gen.ts";
import type { TaskIdentity } from "../../../src/records/task.ts";

/** A record's per-event counts: the events named, 0 for the others. */
export function counts(set: Partial<Record<number, number>>): number[] {
  return Array.from({ length: FsEvent.FS_EVENT_COUNT }, (_, i) => set[i] ?? 0);
}

/** The process of the sample records: a python3.11 run from bash. */
export const task: TaskIdentity = {
  pid: 4242,
  tid: 4243,
  ppid: 1,
  uid: 1000,
  gid: 100,
  startNs: 1_000_000_000n,
  comm: "python3",
  exe: "python3.11",
  parentExe: "bash",
};
