import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { LEGEND, legendText } from "../../src/legend.ts";
import { ROOT } from "../helpers/paths.ts";

test("the legend lists every key of a file record, in output order", () => {
  const record = JSON.parse(readFileSync(`${ROOT}test/fixtures/file-record.min.json`, "utf8"));
  const keys = LEGEND.map(([k]) => k);
  for (const k of Object.keys(record)) expect(keys).toContain(k);
  const order = Object.keys(record).map((k) => keys.indexOf(k));
  expect(order).toEqual([...order].sort((a, b) => a - b));
  for (const event of Object.keys(record.FileEvents)) {
    expect(LEGEND.find(([k]) => k === "FileEvents")![2]!.map(([n]) => n)).toContain(event);
  }
});

test("the legend covers every key the formatters write", () => {
  const sources = ["src/format/sock-json.ts", "src/format/app-json.ts", "src/format/common.ts", "src/format/file-json.ts"]
    .map((f) => readFileSync(`${ROOT}${f}`, "utf8"))
    .join("\n");
  const written = new Set([...sources.matchAll(/"((?:Sock|App|Info|Proc|File)[A-Za-z0-9]*)"/g)].map((m) => m[1]!));
  const keys = new Set(LEGEND.map(([k]) => k));
  for (const k of written) expect([k, keys.has(k)]).toEqual([k, true]);
  expect(written.size).toBeGreaterThan(40);
});

test("layout: header with counts, keys padded to 26, subkeys under their key", () => {
  const text = legendText();
  expect(text).toMatch(/^Legend \(\d+ keys, \d+ subkeys\):\n/);
  expect(text).toContain(`  ${"FileEvents".padEnd(26)}  `);
  expect(text).toContain(`   └─ ${"CLOSE_WRITE".padEnd(23)} `);
});
