/**
 * uid/gid -> name from /etc/passwd and /etc/group, re-read when a file's mtime or size
 * changes (checked by refresh(), on the agent's timer, never per record).
 */
import { readFileSync, statSync } from "node:fs";

/** id -> name of a colon-separated database (name:x:id:...). */
export function parseIdNames(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields.length < 3 || line.startsWith("#")) continue;
    const id = Number(fields[2]);
    // the first entry of an id wins, as with getpwuid()
    if (Number.isInteger(id) && id >= 0 && !names.has(id)) names.set(id, fields[0]!);
  }
  return names;
}

class WatchedTable {
  private stamp = "";
  names = new Map<number, string>();

  constructor(private readonly path: string) {}

  refresh(): void {
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      stamp = "missing";
    }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.names = parseIdNames(readFileSync(this.path, "utf8"));
    } catch {
      this.names = new Map();
    }
  }
}

export class UserGroupNames {
  private readonly users: WatchedTable;
  private readonly groups: WatchedTable;

  constructor(passwd = "/etc/passwd", group = "/etc/group") {
    this.users = new WatchedTable(passwd);
    this.groups = new WatchedTable(group);
    this.refresh();
  }

  refresh(): void {
    this.users.refresh();
    this.groups.refresh();
  }

  user(uid: number): string {
    return this.users.names.get(uid) ?? "";
  }

  group(gid: number): string {
    return this.groups.names.get(gid) ?? "";
  }
}
