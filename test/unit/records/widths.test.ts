// Every field the decoders read is read with a reader of the width the C compiler gave
// it: the decoders' sources are scanned for reads at generated offsets and each is
// checked against the generated widths (bpf/records.h -> layout.gen.ts).
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import * as layout from "../../../src/records/layout.gen.ts";
import { ROOT } from "../../helpers/paths.ts";

/** bytes each reader takes */
const READERS: Record<string, number> = {
  getUint8: 1,
  getInt8: 1,
  getUint16: 2,
  getInt16: 2,
  getUint32: 4,
  getInt32: 4,
  getBigUint64: 8,
  getBigInt64: 8,
  u64: 8,
  u64Big: 8,
};

const SOURCES = ["src/records", "src/ingest"].flatMap((dir) =>
  readdirSync(`${ROOT}${dir}`)
    .filter((f) => f.endsWith(".ts") && f !== "layout.gen.ts")
    .map((f) => `${ROOT}${dir}/${f}`),
);

interface Read {
  readonly where: string;
  readonly reader: string;
  readonly struct: string;
  readonly field: string;
}

/** reads like `view.getUint32(off + RecFile.dev, true)` or `u64Big(view, inode + RecInode.atimeNs)`: the last field named is the one read */
function reads(): Read[] {
  const out: Read[] = [];
  const call = new RegExp(`\\b(${Object.keys(READERS).join("|")})\\(([^;]*?)\\)`, "g");
  for (const file of SOURCES) {
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        for (const m of line.matchAll(call)) {
          const fields = [...m[2]!.matchAll(/\b(Rec[A-Za-z]+)\.([a-z][A-Za-z0-9]*)\b/g)];
          const last = fields.at(-1);
          if (last) out.push({ where: `${file.slice(ROOT.length)}:${i + 1}`, reader: m[1]!, struct: last[1]!, field: last[2]! });
        }
      });
  }
  return out;
}

test("each field is read with a reader of its width (arrays: of their element's)", () => {
  const found = reads();
  // the decoders of all four record kinds and the map expiry read this way
  expect(found.length).toBeGreaterThan(40);
  const wrong = found.filter((r) => {
    const widths = (layout as Record<string, unknown>)[`${r.struct}Width`] as Record<string, number> | undefined;
    const width = widths?.[r.field];
    const bytes = READERS[r.reader]!;
    const arrayLen = (layout as Record<string, unknown>)[`${r.struct}${r.field.charAt(0).toUpperCase()}${r.field.slice(1)}Len`];
    if (width === undefined) return true;
    return typeof arrayLen === "number" ? width / arrayLen !== bytes : width !== bytes;
  });
  expect(wrong.map((r) => `${r.where}: ${r.reader} of ${r.struct}.${r.field}`)).toEqual([]);
});
