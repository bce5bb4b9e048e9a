/**
 * Names a cgroup v2 directory by its id (kernfs inode number) through the shim's
 * kf_cgroup_path: open_by_handle_at on the hierarchy, then the descriptor's path.
 */
import { ptr } from "bun:ffi";
import { openSync } from "node:fs";
import type { Shim } from "./shim.ts";

const PATH_BYTES = 4096;

/**
 * A lookup for the hierarchy mounted at mount: the path (mount point included) of the
 * cgroup with an id, or -errno (-ESTALE: there is none; -EPERM: the capability
 * CAP_DAC_READ_SEARCH is missing). The mount's directory stays open while the agent runs.
 */
export function cgroupPathByHandle(shim: Shim, mount: string): (id: number) => string | number {
  const fd = openSync(mount, "r");
  const buf = new Uint8Array(PATH_BYTES);
  const len = new Uint32Array(1);
  const decoder = new TextDecoder();
  return (id) => {
    const rc = shim.kf_cgroup_path(fd, id, ptr(buf), PATH_BYTES, ptr(len));
    return rc < 0 ? rc : decoder.decode(buf.subarray(0, len[0]!));
  };
}
