import { cStringLength, RecentText, u64, u64Big } from "./bytes.ts";
import { RecTask, RecTaskCommLen } from "./layout.gen.ts";

/** The process behind a record, as captured by the kernel at its first event. */
export interface TaskIdentity {
  readonly pid: number;
  readonly tid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
  /** CLOCK_MONOTONIC start of the process, ns */
  readonly startNs: bigint;
  readonly comm: string;
  /** basename of the executable ("" for kernel threads) */
  readonly exe: string;
  /** basename of the parent's executable */
  readonly parentExe: string;
  /**
   * cgroup v2 id (the kernfs inode number of the cgroup's directory) at the event; 0
   * when unknown. Below 2^53 in practice: the high word only counts id wraps.
   */
  readonly cgroupId: number;
}

/** the last name of each kind decoded: the next record is often from the same process */
const recentComm = new RecentText();
const recentExe = new RecentText();
const recentParentExe = new RecentText();

/** identities decoded lately, with the bytes they came from (struct rec_task, then the two names) */
const RECENT_TASKS = 16;
const recentTaskBytes: Uint8Array[] = Array.from({ length: RECENT_TASKS }, () => new Uint8Array(0));
const recentTasks: (TaskIdentity | undefined)[] = new Array<TaskIdentity | undefined>(RECENT_TASKS).fill(undefined);

/** Whether bytes[off, off + len) and b[at, at + len) are the same. */
function sameBytes(bytes: Uint8Array, off: number, b: Uint8Array, at: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (bytes[off + i] !== b[at + i]) return false;
  return true;
}

/**
 * Decodes a struct rec_task at off; its two names start at tailOff. Returns the
 * identity and leaves the tail bytes it used to the caller via exeLen + parentExeLen.
 * Records come in runs of the same processes: an identity whose bytes are those of one
 * decoded lately (slot by pid) is that one again (identities are never changed), so
 * nothing is made for it.
 */
export function decodeTask(view: DataView, bytes: Uint8Array, off: number, tailOff: number): TaskIdentity {
  const exeLen = view.getUint16(off + RecTask.exeLen, true);
  const parentLen = view.getUint16(off + RecTask.parentExeLen, true);
  const slot = view.getUint32(off + RecTask.pid, true) & (RECENT_TASKS - 1);
  const last = recentTaskBytes[slot]!;
  const names = exeLen + parentLen;
  if (
    last.length === RecTask.SIZE + names &&
    sameBytes(bytes, off, last, 0, RecTask.SIZE) &&
    sameBytes(bytes, tailOff, last, RecTask.SIZE, names)
  ) {
    return recentTasks[slot]!;
  }
  const task = decodeTaskOnce(view, bytes, off, tailOff, exeLen, parentLen);
  const copy = new Uint8Array(RecTask.SIZE + names);
  copy.set(bytes.subarray(off, off + RecTask.SIZE));
  copy.set(bytes.subarray(tailOff, tailOff + names), RecTask.SIZE);
  recentTaskBytes[slot] = copy;
  recentTasks[slot] = task;
  return task;
}

function decodeTaskOnce(view: DataView, bytes: Uint8Array, off: number, tailOff: number, exeLen: number, parentLen: number): TaskIdentity {
  return {
    pid: view.getUint32(off + RecTask.pid, true),
    tid: view.getUint32(off + RecTask.tid, true),
    ppid: view.getUint32(off + RecTask.ppid, true),
    uid: view.getUint32(off + RecTask.uid, true),
    gid: view.getUint32(off + RecTask.gid, true),
    startNs: u64Big(view, off + RecTask.startNs),
    comm: recentComm.get(bytes, off + RecTask.comm, cStringLength(bytes, off + RecTask.comm, RecTaskCommLen)),
    exe: recentExe.get(bytes, tailOff, exeLen),
    parentExe: recentParentExe.get(bytes, tailOff + exeLen, parentLen),
    cgroupId: u64(view, off + RecTask.cgroupId),
  };
}

/** Bytes the two names take at the start of the tail. */
export function taskTailLength(view: DataView, off: number): number {
  return view.getUint16(off + RecTask.exeLen, true) + view.getUint16(off + RecTask.parentExeLen, true);
}
