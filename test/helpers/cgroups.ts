/** Cgroups made by the tests in the real cgroup v2 hierarchy, and removed again. */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { cgroup2MountInfo } from "../../src/kernel.ts";

/** A container id: 64 random hex digits. */
export const hex64 = (): string => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");

/** Where the cgroup v2 hierarchy is mounted, if it is. */
export function cgroup2(): string | undefined {
  return cgroup2MountInfo(readFileSync("/proc/self/mountinfo", "utf8"))?.mount;
}

/** Cgroups this test makes in the v2 hierarchy, removed (deepest first) at the end. */
export class Cgroups {
  private readonly made: string[] = [];
  constructor(readonly mount: string) {}

  /** Makes the cgroup at path (and its missing parents); returns its directory. */
  make(path: string): string {
    let dir = this.mount;
    for (const part of path.split("/").filter(Boolean)) {
      dir += `/${part}`;
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      this.made.push(dir);
    }
    return dir;
  }

  /** Moves what still runs in them back to the root, then removes them. */
  async cleanup(): Promise<void> {
    for (const dir of [...this.made].reverse()) {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          for (const pid of readFileSync(`${dir}/cgroup.procs`, "utf8").split("\n").filter(Boolean)) {
            writeFileSync(`${this.mount}/cgroup.procs`, pid);
          }
          rmdirSync(dir);
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "ENOENT") break;
          // EBUSY: an exited process is still being released, or another test uses a shared parent
          if (attempt === 49) console.warn(`could not remove ${dir}: ${code}`);
          await Bun.sleep(20);
        }
      }
    }
  }
}
