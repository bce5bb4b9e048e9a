/** A file record as kflowd's one-line JSON (keys and order of kflowd-spec §5.1, §5.2). */
import type { Digests } from "../enrich/checksums.ts";
import type { FileRecord } from "../records/file.ts";
import { FsEvent, RecKernelValues } from "../records/layout.gen.ts";
import {
  type CgroupLookup,
  cgroupBytes,
  type DeviceLookup,
  type HostInfo,
  type InterfaceLookup,
  infoBytes,
  type NameLookup,
  procBytes,
  type RemoteNameLookup,
  type VersionLookup,
} from "./common.ts";
import { type JsonBytes, text, textStart } from "./json-bytes.ts";
import { fileMode, permissions } from "./values.ts";

/** JSON names of the events, indexed by FsEvent ("FS_CLOSE_WRITE" -> "CLOSE_WRITE"). */
export const FS_EVENT_NAMES: readonly string[] = Object.entries(FsEvent)
  .filter(([name]) => name !== "FS_EVENT_COUNT")
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name.slice(3));

/** Record-independent inputs of one formatted record. */
export interface FormatContext {
  readonly host: HostInfo;
  readonly names: NameLookup;
  readonly devices: DeviceLookup;
  readonly interfaces: InterfaceLookup;
  /** ProcCgroup, ProcContainerId */
  readonly cgroups: CgroupLookup;
  /** SockRemoteName */
  readonly remoteNames: RemoteNameLookup;
  /** -v: package versions; without it there are no *Version keys */
  readonly versions?: VersionLookup;
  readonly seq: number;
  /** processing time, ns since the epoch */
  readonly nowNs: bigint;
  /** time since the agent started monitoring, ns */
  readonly uptimeNs: bigint;
}

/** '"CLOSE_WRITE": ' per event, for eventsBytes() */
const FS_EVENT_KEYS: readonly string[] = FS_EVENT_NAMES.map((name) => `"${name}": `);

/** kflowd's "executable file": a regular file with any execute bit. */
export function isExecutable(r: FileRecord): boolean {
  return r.inodeKnown && (r.mode & RecKernelValues.REC_S_IFMT) === RecKernelValues.REC_S_IFREG && (r.mode & 0o111) !== 0;
}

function eventsBytes(out: JsonBytes, counts: readonly number[]): void {
  out.byte(123); // {
  let first = true;
  for (let i = 0; i < FS_EVENT_KEYS.length; i++) {
    const n = counts[i]!;
    if (n === 0) continue;
    if (!first) out.ascii(", ");
    first = false;
    out.ascii(FS_EVENT_KEYS[i]!);
    out.num(n);
  }
  out.byte(125); // }
}

/** The record into out, as one line of JSON; digests: -c on and the file executable (undefined: no checksum keys). */
export function fileBytes(out: JsonBytes, r: FileRecord, ctx: FormatContext, digests?: Digests): void {
  infoBytes(out, ctx.host, "filesystem", ctx.seq, ctx.nowNs, ctx.uptimeNs, r.deferred);
  out.ascii(", ");
  procBytes(out, r.task, ctx.names, r.tsNs, ctx.versions);
  const path = r.path;
  const slash = path.lastIndexOf("/");
  out.ascii(', "FilePath": ');
  if (slash < 0) out.ascii('"/"');
  else out.strRange(path, 0, slash + 1);
  out.ascii(', "File": ');
  out.strRange(path, slash + 1, path.length);
  if (r.origin !== undefined) {
    out.ascii(', "FileOrigin": ');
    out.str(r.origin);
  }
  if (ctx.versions && isExecutable(r)) {
    out.ascii(', "FileVersion": ');
    out.str(ctx.versions.fileVersion(r.path));
  }
  if (r.mode !== 0) {
    out.ascii(', "FileMode": "');
    out.ascii(fileMode(r.mode, r.nlink));
    out.byte(34);
  }
  out.ascii(', "FileEventCount": ');
  out.num(r.events);
  out.ascii(', "FileEvents": ');
  eventsBytes(out, r.eventCounts);
  out.ascii(', "FileEventsDuration": ');
  out.seconds9Between(r.tsNs, r.tsFirstNs);
  // a path operation the kernel could not map to an inode has nothing more to say
  if (!r.inodeKnown) {
    cgroupBytes(out, r.task, ctx.cgroups);
    out.byte(125);
    return;
  }
  const sizeChange = r.size - r.sizeFirst;
  out.ascii(', "FileInode": ');
  out.big(r.ino);
  out.ascii(', "FileInodeLinkCount": ');
  out.num(r.nlink);
  out.ascii(', "FileDevice": ');
  out.str(ctx.devices.device(r.dev));
  out.ascii(', "FilePermissions": "');
  out.ascii(permissions(r.mode));
  out.ascii('", "FileUser": ');
  out.str(ctx.names.user(r.uid));
  out.ascii(', "FileGroup": ');
  out.str(ctx.names.group(r.gid));
  out.ascii(', "FileUID": ');
  out.num(r.uid);
  out.ascii(', "FileGID": ');
  out.num(r.gid);
  out.ascii(', "FileSize": ');
  out.num(r.size);
  if (sizeChange !== 0) {
    out.ascii(', "FileSizeChange": ');
    out.num(sizeChange);
  }
  out.ascii(', "FileAccessTime": "');
  out.timestamp(r.atimeNs);
  out.ascii('", "FileStatusChangeTime": "');
  out.timestamp(r.ctimeNs);
  out.ascii('", "FileModificationTime": "');
  out.timestamp(r.mtimeNs);
  out.byte(34);
  if (r.mtimeNs !== r.mtimeFirstNs) {
    out.ascii(', "FileModificationTimeChange": ');
    out.seconds9Between(r.mtimeNs, r.mtimeFirstNs);
  }
  if (digests) {
    out.ascii(', "FileMD5": ');
    out.str(digests.md5);
    out.ascii(', "FileSHA256": ');
    out.str(digests.sha256);
  }
  cgroupBytes(out, r.task, ctx.cgroups);
  out.byte(125);
}

/** The record as one line of JSON text (pretty JSON, the collectors). */
export function fileJson(r: FileRecord, ctx: FormatContext, digests?: Digests): string {
  const out = textStart();
  fileBytes(out, r, ctx, digests);
  return text(out);
}
