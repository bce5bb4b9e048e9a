// Commands as people type them: each tool runs in a directory (its working directory,
// as after `cd`) and names files relatively, or walks a tree through directory
// descriptors (rm -r, find, chmod -R, cp -r, tar). Every record is checked against
// stat(1) taken right before and right after the tool: the name, the inode keys, and the
// change keys only where the tool changed size or modification time.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Json, RunningAgent } from "../helpers/agent.ts";
import { skipWithoutKernel } from "../helpers/privilege.ts";
import { statKeys } from "../helpers/stat.ts";

setDefaultTimeout(30_000);
const skip = skipWithoutKernel("end-to-end tool tests");

/** Size and modification time of path as stat(1) shows them (lstat), or undefined if it is not there. */
function sizeAndMtime(path: string): { size: number; mtimeNs: bigint } | undefined {
  const r = Bun.spawnSync(["stat", "-c", "%s %.9Y", path]);
  if (r.exitCode !== 0) return undefined;
  const [size, mtime] = r.stdout.toString().trim().split(" ");
  const [s, ns] = mtime!.split(".");
  return { size: Number(size), mtimeNs: BigInt(s!) * 1_000_000_000n + BigInt(ns!) };
}

/**
 * The change keys a record of an operation must carry, from the file before and after
 * it: each only when the operation changed it.
 */
function expectChanges(r: Json, before: ReturnType<typeof sizeAndMtime>, after: ReturnType<typeof sizeAndMtime>): void {
  if (!before || !after) throw new Error("no stat to compare with");
  if (after.size !== before.size) expect(r.FileSizeChange).toBe(after.size - before.size);
  else expect(r).not.toHaveProperty("FileSizeChange");
  const dt = after.mtimeNs - before.mtimeNs;
  if (dt !== 0n) expect(r.FileModificationTimeChange as number).toBeCloseTo(Number(dt) / 1e9, 6);
  else expect(r).not.toHaveProperty("FileModificationTimeChange");
}

describe.skipIf(skip)("tools run in a directory, with relative names", () => {
  let agent: RunningAgent;
  let root: string;
  let n = 0;

  /** A fresh directory with files name -> content, each file's own record seen. */
  async function workdir(files: Record<string, string> = {}): Promise<string> {
    const dir = `${root}/w${++n}`;
    mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) {
      const path = `${dir}/${name}`;
      mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      writeFileSync(path, content);
      await agent.waitForFile(path);
    }
    return dir;
  }

  /** Runs argv with cwd as its working directory; returns its pid once it exited 0. */
  async function run(cwd: string, ...argv: string[]): Promise<number> {
    const p = Bun.spawn(argv, { cwd, stderr: "pipe" });
    const code = await p.exited;
    if (code !== 0) throw new Error(`${argv.join(" ")}: exit ${code}: ${await new Response(p.stderr).text()}`);
    return p.pid;
  }

  /** The record of process pid for path whose events include event. */
  function recordOf(pid: number, path: string, event: string): Promise<Json> {
    return agent.waitFor(
      () => agent.fileRecords(path).find((r) => r.ProcPID === pid && (r.FileEvents as Record<string, number>)[event]),
      `a ${event} record of ${pid} for ${path}`,
    );
  }

  beforeAll(async () => {
    root = mkdtempSync(`${tmpdir()}/kflowd-tools-`);
    agent = await RunningAgent.start(["-o", "json-min"]);
  });

  afterAll(async () => {
    if (agent) expect(await agent.stop()).toBe(0);
  });

  test("mv a.txt b.txt, mv b.txt sub/, mv ../c.txt .: named where it went, FileOrigin, no change keys", async () => {
    const dir = await workdir({ "a.txt": "alpha\n", "c.txt": "gamma\n" });
    mkdirSync(`${dir}/sub`);
    const before = sizeAndMtime(`${dir}/a.txt`);
    const mv1 = await run(dir, "mv", "a.txt", "b.txt");
    const r1 = await recordOf(mv1, `${dir}/b.txt`, "MOVED_TO");
    expect(r1).toMatchObject({
      Proc: "mv",
      FilePath: `${dir}/`,
      File: "b.txt",
      FileOrigin: "a.txt",
      FileEvents: { MOVED_FROM: 1, MOVED_TO: 1 },
    });
    expect(r1).toMatchObject(statKeys(`${dir}/b.txt`));
    expectChanges(r1, before, sizeAndMtime(`${dir}/b.txt`));

    const mv2 = await run(dir, "mv", "b.txt", "sub/");
    const r2 = await recordOf(mv2, `${dir}/sub/b.txt`, "MOVED_TO");
    expect(r2).toMatchObject({ FilePath: `${dir}/sub/`, File: "b.txt", FileOrigin: "b.txt", ...statKeys(`${dir}/sub/b.txt`) });

    const mv3 = await run(`${dir}/sub`, "mv", "../c.txt", ".");
    const r3 = await recordOf(mv3, `${dir}/sub/c.txt`, "MOVED_TO");
    expect(r3).toMatchObject({ FilePath: `${dir}/sub/`, File: "c.txt", FileOrigin: "c.txt", ...statKeys(`${dir}/sub/c.txt`) });
    expect(r3).not.toHaveProperty("FileSizeChange");
    expect(r3).not.toHaveProperty("FileModificationTimeChange");
  });

  test("chmod 640 and chown by relative name: ATTRIB, the new owner and mode, no change keys", async () => {
    const dir = await workdir({ "b.txt": "bravo\n" });
    const before = sizeAndMtime(`${dir}/b.txt`);
    const chmod = await run(dir, "chmod", "640", "b.txt");
    const r = await recordOf(chmod, `${dir}/b.txt`, "ATTRIB");
    expect(r).toMatchObject({ Proc: "chmod", FileEvents: { ATTRIB: 1 }, FileEventCount: 1, FilePermissions: "0640/-rw-r-----" });
    expect(r).toMatchObject(statKeys(`${dir}/b.txt`));
    expectChanges(r, before, sizeAndMtime(`${dir}/b.txt`));

    const chown = await run(dir, "chown", "65534:65534", "b.txt");
    const o = await recordOf(chown, `${dir}/b.txt`, "ATTRIB");
    expect(o).toMatchObject({ FileUID: 65534, FileGID: 65534, ...statKeys(`${dir}/b.txt`) });
    expectChanges(o, before, sizeAndMtime(`${dir}/b.txt`));
  });

  test("ln b.txt hard.txt, ln -s b.txt soft.txt, rm hard.txt: CREATE and DELETE by name, link counts after", async () => {
    const dir = await workdir({ "b.txt": "bravo\n" });
    const before = sizeAndMtime(`${dir}/b.txt`);
    const ln = await run(dir, "ln", "b.txt", "hard.txt");
    const hard = await recordOf(ln, `${dir}/hard.txt`, "CREATE");
    expect(hard).toMatchObject({ FileMode: "hardlink", FileEvents: { CREATE: 1 }, FileInodeLinkCount: 2, ...statKeys(`${dir}/hard.txt`) });
    expectChanges(hard, before, sizeAndMtime(`${dir}/hard.txt`));

    const lns = await run(dir, "ln", "-s", "b.txt", "soft.txt");
    const soft = await recordOf(lns, `${dir}/soft.txt`, "CREATE");
    expect(soft).toMatchObject({ FileMode: "symlink", FileEvents: { CREATE: 1 }, FileSize: 5, ...statKeys(`${dir}/soft.txt`) });
    // a new link had no state before it: no change
    expect(soft).not.toHaveProperty("FileSizeChange");
    expect(soft).not.toHaveProperty("FileModificationTimeChange");

    const rm = await run(dir, "rm", "hard.txt");
    const del = await recordOf(rm, `${dir}/hard.txt`, "DELETE");
    // one link left: the file as stat shows it under that name now
    expect(del).toMatchObject({ FileEvents: { DELETE: 1 }, FileEventCount: 1, FileMode: "regular", ...statKeys(`${dir}/b.txt`) });
    expectChanges(del, before, sizeAndMtime(`${dir}/b.txt`));

    const last = statKeys(`${dir}/b.txt`);
    const rm2 = await run(dir, "rm", "b.txt", "soft.txt");
    const gone = await recordOf(rm2, `${dir}/b.txt`, "DELETE");
    // the last link: the file as it was, with no link left
    expect(gone).toMatchObject({ ...last, FileInodeLinkCount: 0, FileStatusChangeTime: gone.FileStatusChangeTime });
    expect(gone).not.toHaveProperty("FileSizeChange");
    expect(await recordOf(rm2, `${dir}/soft.txt`, "DELETE")).toMatchObject({ FileMode: "symlink", FileInodeLinkCount: 0 });
  });

  test("rm -r, find -delete and chmod -R walk the tree by directory descriptors: every file named", async () => {
    const tree = { "t/a.txt": "a", "t/s/b.txt": "b", "t/s/d/c.tmp": "c", "t/s/e.tmp": "e" };
    const dir = await workdir(tree);
    const chmod = await run(dir, "chmod", "-R", "700", "t");
    for (const f of Object.keys(tree)) {
      const r = await recordOf(chmod, `${dir}/${f}`, "ATTRIB");
      expect(r).toMatchObject({ FileEvents: { ATTRIB: 1 }, ...statKeys(`${dir}/${f}`) });
    }
    const find = await run(`${dir}/t`, "find", ".", "-name", "*.tmp", "-delete");
    for (const f of ["t/s/d/c.tmp", "t/s/e.tmp"]) {
      expect(await recordOf(find, `${dir}/${f}`, "DELETE")).toMatchObject({
        Proc: "find",
        FileEvents: { DELETE: 1 },
        FileInodeLinkCount: 0,
      });
    }
    const rm = await run(`${dir}/t/s`, "rm", "-r", "../../t");
    for (const f of ["t/a.txt", "t/s/b.txt"]) {
      const r = await recordOf(rm, `${dir}/${f}`, "DELETE");
      expect(r).toMatchObject({ Proc: "rm", FileEvents: { DELETE: 1 }, FilePermissions: "0700/-rwx------", FileInodeLinkCount: 0 });
      expect(r).not.toHaveProperty("FileSizeChange");
    }
  });

  test("cp -r and tar x: the copies named by the paths the tools built", async () => {
    const dir = await workdir({ "src/a.txt": "one\n", "src/s/b.txt": "two!\n" });
    const cp = await run(dir, "cp", "-r", "src", "dst");
    for (const f of ["a.txt", "s/b.txt"]) {
      const r = await recordOf(cp, `${dir}/dst/${f}`, "CLOSE_WRITE");
      expect(r).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 }, ...statKeys(`${dir}/dst/${f}`) });
      expect(r.FileSizeChange).toBe(r.FileSize);
    }
    await run(dir, "tar", "cf", "t.tar", "src");
    mkdirSync(`${dir}/x`);
    const tar = await run(`${dir}/x`, "tar", "xf", "../t.tar");
    for (const f of ["a.txt", "s/b.txt"]) {
      const path = `${dir}/x/src/${f}`;
      const r = await recordOf(tar, path, "CLOSE_WRITE");
      expect(r).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 }, ...statKeys(path) });
      expect(r.FileSizeChange).toBe(r.FileSize);
    }
  });

  test("touch -d and truncate: the change against the file before", async () => {
    const dir = await workdir({ "f.txt": "0123456789" });
    const path = `${dir}/f.txt`;
    let before = sizeAndMtime(path);
    const touch = await run(dir, "touch", "-d", "2001-02-03 04:05:06.5", "f.txt");
    const t = await recordOf(touch, path, "ATTRIB");
    expect(t).toMatchObject({ FileModificationTime: "Sat, Feb 03 2001 04:05:06.500000000 UTC", ...statKeys(path) });
    expectChanges(t, before, sizeAndMtime(path));
    expect(t.FileModificationTimeChange as number).toBeLessThan(0);

    for (const size of ["4", "100"]) {
      before = sizeAndMtime(path);
      const pid = await run(dir, "truncate", "-s", size, "f.txt");
      const r = await recordOf(pid, path, "MODIFY");
      expect(r).toMatchObject({ FileSize: Number(size), ...statKeys(path) });
      expectChanges(r, before, sizeAndMtime(path));
    }
  });

  test("install, sed -i and an editor's atomic save: the replacement named after the file it replaced", async () => {
    const dir = await workdir({ "conf.txt": "key=old\n", "notes.txt": "draft\n" });
    const install = await run(dir, "install", "-m", "755", "conf.txt", "conf.bin");
    const created = await recordOf(install, `${dir}/conf.bin`, "CREATE");
    expect(created).toMatchObject({ FileEvents: { CREATE: 1, OPEN: 1, CLOSE_WRITE: 1 }, FileSize: 8, FileSizeChange: 8 });
    // the mode is set last (by descriptor or by name): its record shows the file as it is now
    const last = await agent.waitFor(
      () => agent.fileRecords(`${dir}/conf.bin`).find((r) => r.ProcPID === install && r.FilePermissions === "0755/-rwxr-xr-x"),
      "install's chmod",
    );
    expect(last).toMatchObject(statKeys(`${dir}/conf.bin`));

    const sed = await run(dir, "sed", "-i", "s/old/newer/", "conf.txt");
    const moved = await recordOf(sed, `${dir}/conf.txt`, "MOVED_TO");
    expect(moved).toMatchObject({
      Proc: "sed",
      FilePath: `${dir}/`,
      File: "conf.txt",
      FileEvents: { MOVED_FROM: 1, MOVED_TO: 1 },
      ...statKeys(`${dir}/conf.txt`),
    });
    expect(moved.FileOrigin).toMatch(/^sed\w{6}$/);
    expect(moved).not.toHaveProperty("FileSizeChange");
    const temp = await recordOf(sed, `${dir}/${moved.FileOrigin}`, "CLOSE_WRITE");
    expect(temp).toMatchObject({ FileInode: moved.FileInode, FileSize: 10, FileSizeChange: 10 });

    // as editors save: a temporary file written and synced, renamed over the original
    const save = `import os
with open(".notes.txt.swp", "w") as f:
    f.write("final text\\n"); f.flush(); os.fsync(f.fileno())
os.replace(".notes.txt.swp", "notes.txt")`;
    const editor = await run(dir, "python3", "-c", save);
    const saved = await recordOf(editor, `${dir}/notes.txt`, "MOVED_TO");
    expect(saved).toMatchObject({ File: "notes.txt", FileOrigin: ".notes.txt.swp", FileSize: 11, ...statKeys(`${dir}/notes.txt`) });
    expect(saved).not.toHaveProperty("FileSizeChange");
    expect(await recordOf(editor, `${dir}/.notes.txt.swp`, "CLOSE_WRITE")).toMatchObject({
      FileInode: saved.FileInode,
      FileSizeChange: 11,
    });
  });

  test.skipIf(!Bun.which("git"))("git init, add, commit: objects, index and refs under .git, named", async () => {
    const dir = await workdir({ "repo/f.txt": "tracked\n" });
    const repo = `${dir}/repo`;
    const env = { GIT_AUTHOR_NAME: "a", GIT_AUTHOR_EMAIL: "a@b", GIT_COMMITTER_NAME: "a", GIT_COMMITTER_EMAIL: "a@b" };
    for (const argv of [
      ["init", "-q"],
      ["add", "f.txt"],
      ["commit", "-qm", "first"],
    ]) {
      const p = Bun.spawn(["git", ...argv], { cwd: repo, env: { ...process.env, ...env }, stderr: "pipe" });
      expect(await p.exited).toBe(0);
    }
    const hash = (await Bun.$`git -C ${repo} rev-parse HEAD`.text()).trim();
    const object = `${repo}/.git/objects/${hash.slice(0, 2)}/${hash.slice(2)}`;
    // git writes an object as a temporary file and links it to its name
    const [linked] = await agent.waitFor(() => {
      const found = agent.fileRecords(object).filter((r) => r.Proc === "git" && (r.FileEvents as Record<string, number>).CREATE);
      return found.length ? found : undefined;
    }, `the CREATE of ${object}`);
    expect(linked).toMatchObject({ FilePath: `${repo}/.git/objects/${hash.slice(0, 2)}/`, FileInode: statKeys(object).FileInode });
    const index = await agent.waitFor(
      () => agent.fileRecords(`${repo}/.git/index`).find((r) => r.FileOrigin === "index.lock"),
      "the index renamed from index.lock",
    );
    expect(index).toMatchObject({ FileEvents: { MOVED_FROM: 1, MOVED_TO: 1 } });
    const branch = (await Bun.$`git -C ${repo} symbolic-ref --short HEAD`.text()).trim();
    const refPath = `${repo}/.git/refs/heads/${branch}`;
    const ref = await agent.waitFor(
      () => agent.fileRecords(refPath).find((r) => r.FileOrigin === `${branch}.lock`),
      "the branch ref renamed from its lock",
    );
    // (read since by rev-parse: its access time moved on)
    const { FileAccessTime: _, ...refNow } = statKeys(refPath);
    expect(ref).toMatchObject(refNow);
  });
});
