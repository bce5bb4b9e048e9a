/**
 * Device -> "<dev hex>h:<source>:<mount point>:<fstype>" for FileDevice, from
 * /proc/self/mountinfo. The hex is the user-space dev_t encoding (what stat() reports),
 * which equals kflowd's major << 8 | minor for minors below 256 and, unlike it, does not
 * collide above. Unknown devices cause a re-read, at most once per second.
 */
import { readFileSync } from "node:fs";
import { unescapeMountField } from "../mountinfo.ts";

export interface MountEntry {
  readonly source: string;
  readonly mountPoint: string;
  readonly fsType: string;
}

/** Kernel dev_t (major << 20 | minor) -> its mount; a device's mount of its root wins. */
export function parseMountinfo(text: string): Map<number, MountEntry> {
  const byDev = new Map<number, MountEntry & { rootSeen: boolean }>();
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (fields.length < 10 || dash < 6) continue;
    const [major, minor] = fields[2]!.split(":").map(Number);
    if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) continue;
    const dev = major * 0x100000 + minor;
    const rootSeen = fields[3] === "/";
    const prev = byDev.get(dev);
    if (prev && (prev.rootSeen || !rootSeen)) continue;
    byDev.set(dev, {
      source: unescapeMountField(fields[dash + 2] ?? ""),
      mountPoint: unescapeMountField(fields[4]!),
      fsType: fields[dash + 1] ?? "",
      rootSeen,
    });
  }
  return byDev;
}

/** stat()'s encoding of a kernel dev_t, in hex. */
export function devHex(kernelDev: number): string {
  const major = Math.floor(kernelDev / 0x100000);
  const minor = kernelDev & 0xfffff;
  const user = BigInt(minor & 0xff) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n);
  return user.toString(16);
}

export class DeviceNames {
  private mounts = new Map<number, MountEntry>();
  private readonly cache = new Map<number, string>();
  private loadedAt = -Infinity;
  private text = "";

  constructor(
    private readonly path = "/proc/self/mountinfo",
    private readonly now: () => number = Date.now,
  ) {
    this.reload();
  }

  private reload(): void {
    this.loadedAt = this.now();
    let text = "";
    try {
      text = readFileSync(this.path, "utf8");
    } catch {}
    if (text === this.text) return;
    this.text = text;
    this.mounts = parseMountinfo(text);
    this.cache.clear();
  }

  /** Picks up mounts and unmounts; called on the agent's timer. */
  refresh(): void {
    this.reload();
  }

  /** FileDevice text of a kernel dev_t. */
  device(dev: number): string {
    const hit = this.cache.get(dev);
    if (hit !== undefined) return hit;
    let m = this.mounts.get(dev);
    if (!m && this.now() - this.loadedAt >= 1000) {
      this.reload();
      m = this.mounts.get(dev);
    }
    const text = `${devHex(dev)}h:${m?.source ?? ""}:${m?.mountPoint ?? ""}:${m?.fsType ?? ""}`;
    if (m) this.cache.set(dev, text);
    return text;
  }
}
