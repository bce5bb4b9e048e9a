/**
 * The header blob an rpm sqlite database stores per package (rpm's header format, big
 * endian: entry count, data length, 16-byte index entries, then the data store), read
 * for the fields the package-version cache needs. Total: a corrupt blob gives undefined.
 */
/** The fields of an rpm header that the version cache uses. */
export interface RpmHeader {
  readonly name: string;
  /** `VERSION-RELEASE`, prefixed by `EPOCH:` when the header has an epoch */
  readonly evr: string;
  /** DIRNAMES (each ends in "/") */
  readonly dirNames: readonly string[];
  /** BASENAMES, parallel to dirIndexes */
  readonly baseNames: readonly string[];
  /** DIRINDEXES: index into dirNames of each basename */
  readonly dirIndexes: readonly number[];
}

const RPMTAG_NAME = 1000;
const RPMTAG_VERSION = 1001;
const RPMTAG_RELEASE = 1002;
const RPMTAG_EPOCH = 1003;
const RPMTAG_OLDFILENAMES = 1027;
const RPMTAG_DIRINDEXES = 1116;
const RPMTAG_BASENAMES = 1117;
const RPMTAG_DIRNAMES = 1118;
const WANTED_TAGS = new Set([
  RPMTAG_NAME,
  RPMTAG_VERSION,
  RPMTAG_RELEASE,
  RPMTAG_EPOCH,
  RPMTAG_OLDFILENAMES,
  RPMTAG_DIRINDEXES,
  RPMTAG_BASENAMES,
  RPMTAG_DIRNAMES,
]);
const RPM_INT32 = 4;
const RPM_STRING = 6;
const RPM_STRING_ARRAY = 8;
const RPM_I18NSTRING = 9;
/** rpm's own limits on a header (HEADER_TAGS_MAX, HEADER_DATA_MAX) */
const RPM_MAX_ENTRIES = 0xffff;
const RPM_MAX_DATA = 256 * 1024 * 1024;
const utf8 = new TextDecoder();

interface RpmEntry {
  readonly type: number;
  readonly offset: number;
  readonly count: number;
}

/** `count` NUL-terminated strings at `entry.offset`, or undefined when they overrun the data. */
function rpmStrings(data: Uint8Array, entry: RpmEntry, count: number): string[] | undefined {
  if (count === 0) return [];
  if (entry.offset >= data.length || count > data.length - entry.offset) return undefined;
  let end = entry.offset;
  for (let i = 0; i < count; i++) {
    const nul = data.indexOf(0, end);
    if (nul < 0) return undefined;
    end = nul + 1;
  }
  return utf8.decode(data.subarray(entry.offset, end - 1)).split("\0");
}

function rpmString(data: Uint8Array, entry: RpmEntry | undefined): string | undefined {
  if (entry === undefined || (entry.type !== RPM_STRING && entry.type !== RPM_I18NSTRING) || entry.count < 1) {
    return undefined;
  }
  return rpmStrings(data, entry, 1)?.[0];
}

function rpmStringArray(data: Uint8Array, entry: RpmEntry | undefined): string[] | undefined {
  if (entry === undefined || entry.type !== RPM_STRING_ARRAY) return undefined;
  return rpmStrings(data, entry, entry.count);
}

function rpmInt32s(data: Uint8Array, entry: RpmEntry | undefined): number[] | undefined {
  if (entry === undefined || entry.type !== RPM_INT32) return undefined;
  if (entry.offset > data.length || entry.count > (data.length - entry.offset) / 4) return undefined;
  const view = new DataView(data.buffer, data.byteOffset + entry.offset, entry.count * 4);
  const values: number[] = [];
  for (let i = 0; i < entry.count; i++) values.push(view.getUint32(i * 4));
  return values;
}

/**
 * Parses an rpm header blob as stored in rpmdb.sqlite: int32 BE entry count, int32 BE data
 * length, 16-byte entries (tag, type, offset, count; all BE), then the data store. Total: any
 * input gives a header or undefined (truncated, oversized, wrong type, dangling offset or
 * directory index), never an exception.
 */
export function parseRpmHeader(blob: Uint8Array): RpmHeader | undefined {
  if (blob.length < 8) return undefined;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const entryCount = view.getUint32(0);
  const dataLength = view.getUint32(4);
  if (entryCount < 1 || entryCount > RPM_MAX_ENTRIES || dataLength > RPM_MAX_DATA) return undefined;
  const dataStart = 8 + entryCount * 16;
  if (dataStart + dataLength > blob.length) return undefined;
  const data = blob.subarray(dataStart, dataStart + dataLength);
  const entries = new Map<number, RpmEntry>();
  for (let at = 8; at < dataStart; at += 16) {
    const tag = view.getUint32(at);
    if (WANTED_TAGS.has(tag) && !entries.has(tag)) {
      const [type, offset, count] = [view.getUint32(at + 4), view.getUint32(at + 8), view.getUint32(at + 12)];
      entries.set(tag, { type, offset, count });
    }
  }
  const name = rpmString(data, entries.get(RPMTAG_NAME));
  const version = rpmString(data, entries.get(RPMTAG_VERSION));
  const release = rpmString(data, entries.get(RPMTAG_RELEASE));
  if (name === undefined || version === undefined || release === undefined) return undefined;
  let evr = `${version}-${release}`;
  if (entries.has(RPMTAG_EPOCH)) {
    const epoch = rpmInt32s(data, entries.get(RPMTAG_EPOCH))?.[0];
    if (epoch === undefined) return undefined;
    evr = `${epoch}:${evr}`;
  }
  if (entries.has(RPMTAG_BASENAMES)) {
    const baseNames = rpmStringArray(data, entries.get(RPMTAG_BASENAMES));
    const dirNames = rpmStringArray(data, entries.get(RPMTAG_DIRNAMES));
    const dirIndexes = rpmInt32s(data, entries.get(RPMTAG_DIRINDEXES));
    if (baseNames === undefined || dirNames === undefined || dirIndexes === undefined) return undefined;
    if (dirIndexes.length !== baseNames.length || dirIndexes.some((d) => d >= dirNames.length)) return undefined;
    return { name, evr, dirNames, baseNames, dirIndexes };
  }
  // headers without compressed file names (rpm < 4) list whole paths
  const oldNames = entries.has(RPMTAG_OLDFILENAMES) ? rpmStringArray(data, entries.get(RPMTAG_OLDFILENAMES)) : [];
  if (oldNames === undefined) return undefined;
  const dirNames: string[] = [];
  const dirIndex = new Map<string, number>();
  const baseNames: string[] = [];
  const dirIndexes: number[] = [];
  for (const path of oldNames) {
    const dir = path.slice(0, path.lastIndexOf("/") + 1);
    let index = dirIndex.get(dir);
    if (index === undefined) {
      index = dirNames.push(dir) - 1;
      dirIndex.set(dir, index);
    }
    baseNames.push(path.slice(dir.length));
    dirIndexes.push(index);
  }
  return { name, evr, dirNames, baseNames, dirIndexes };
}
