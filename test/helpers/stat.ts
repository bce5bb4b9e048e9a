/**
 * What a file record's inode keys must say, computed from stat(1) and date(1) rather than
 * from the agent's own formatters, so that a formatting bug cannot agree with itself.
 */
import { expect } from "bun:test";

function run(...argv: string[]): string {
  const r = Bun.spawnSync(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

/** "Sat, Feb 03 2001 04:05:06.500000000 UTC" for a time as stat prints it ("%.9Y"). */
function kflowdTime(epoch: string): string {
  return run("date", "-u", "-d", `@${epoch}`, "+%a, %b %d %Y %H:%M:%S.%N UTC");
}

/** The inode keys of the record for path as stat sees the file now (lstat: links not followed). */
export function statKeys(path: string): Record<string, unknown> {
  const [ino, nlink, uid, gid, user, group, size, mode, ls, atime, mtime, ctime] = run(
    "stat",
    "-c",
    "%i|%h|%u|%g|%U|%G|%s|%a|%A|%.9X|%.9Y|%.9Z",
    path,
  ).split("|");
  return {
    FileInode: Number(ino),
    FileInodeLinkCount: Number(nlink),
    FileUID: Number(uid),
    FileGID: Number(gid),
    FileUser: user,
    FileGroup: group,
    FileSize: Number(size),
    FilePermissions: `${mode!.padStart(4, "0")}/${ls!.replace(/^[^l]/, "-")}`,
    FileAccessTime: kflowdTime(atime!),
    FileModificationTime: kflowdTime(mtime!),
    FileStatusChangeTime: kflowdTime(ctime!),
  };
}

/** Asserts every inode key of record against stat of path. */
export function expectStat(record: Record<string, unknown>, path: string): void {
  expect(record).toMatchObject(statKeys(path));
}
