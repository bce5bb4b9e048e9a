/**
 * ifindex -> "<ifindex>:<name>:<mac>" for SockTx/RxInterface, from /sys/class/net.
 * An unknown index re-reads the directory, at most once per second, so interfaces
 * created after the start are named too.
 */
import { readdirSync, readFileSync } from "node:fs";

export class InterfaceNames {
  private names = new Map<number, string>();
  private loadedAt = -Infinity;

  constructor(
    private readonly dir = "/sys/class/net",
    private readonly now: () => number = Date.now,
  ) {
    this.reload();
  }

  private reload(): void {
    this.loadedAt = this.now();
    const names = new Map<number, string>();
    let entries: string[] = [];
    try {
      entries = readdirSync(this.dir);
    } catch {}
    for (const name of entries) {
      try {
        const index = Number(readFileSync(`${this.dir}/${name}/ifindex`, "utf8").trim());
        const mac = readFileSync(`${this.dir}/${name}/address`, "utf8").trim();
        if (Number.isInteger(index)) names.set(index, `${index}:${name}:${mac}`);
      } catch {}
    }
    this.names = names;
  }

  /** Re-reads the interfaces (SIGHUP). */
  refresh(): void {
    this.reload();
  }

  /** "" for index 0 (no packet in that direction). */
  interface(index: number): string {
    if (index === 0) return "";
    let text = this.names.get(index);
    if (text === undefined && this.now() - this.loadedAt >= 1000) {
      this.reload();
      text = this.names.get(index);
    }
    return text ?? `${index}::`;
  }
}
