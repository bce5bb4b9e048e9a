/**
 * Macro workload: untar a generated source tree (C files, headers, Makefile and a pile
 * of small data files, as real trees have) and build it with make -j2 (gcc -O1, ar,
 * link). Wall time without and with the agent (DESIGN §8: ≤ 5 % slower).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Bench, type Ctx, lossNote, pairedRounds, pairedRow } from "./lib/bench.ts";
import { median, type Row } from "./lib/stats.ts";
import { run, WORK } from "./lib/sys.ts";

const C_FILES = 64;
const HEADERS = 24;
const DATA_FILES = 1500;
const FUNCTIONS_PER_FILE = 12;
const SRC = join(WORK, "macro-src");
const TARBALL = join(WORK, "macro.tar.gz");
const DEST = join(WORK, "macro-build");

/** A deterministic pseudo-random sequence, so every run builds the same tree. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function header(i: number): string {
  return `#ifndef GEN_H${i}
#define GEN_H${i}
#include <stddef.h>
#include <stdint.h>
struct rec${i} { uint64_t id; uint32_t kind; char name[32]; double weight[4]; };
static inline uint64_t mix${i}(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return x + ${i}; }
size_t count${i}(const struct rec${i} *r, size_t n);
#endif
`;
}

function source(file: number, rand: () => number): string {
  const inc = Array.from({ length: 5 }, () => Math.floor(rand() * HEADERS));
  const lines = [
    "#include <stdio.h>",
    "#include <stdlib.h>",
    "#include <string.h>",
    ...[...new Set(inc)].map((h) => `#include "h${h}.h"`),
    "",
  ];
  const h = inc[0]!;
  for (let f = 0; f < FUNCTIONS_PER_FILE; f++) {
    lines.push(`uint64_t f${file}_${f}(struct rec${h} *r, size_t n, uint64_t seed) {
  uint64_t acc = seed;
  for (size_t i = 0; i < n; i++) {
    switch ((r[i].kind + ${f}) % 5) {
    case 0: acc += mix${h}(r[i].id); break;
    case 1: acc ^= (uint64_t)(r[i].weight[i % 4] * ${f + 1}.5); break;
    case 2: acc = acc * 31 + strlen(r[i].name); break;
    case 3: if (r[i].id > acc) acc = r[i].id - acc; break;
    default: snprintf(r[i].name, sizeof(r[i].name), "r%zu-%llu", i, (unsigned long long)acc);
    }
  }
  return acc;
}
`);
  }
  return lines.join("\n");
}

/** Writes the tree and packs it (once per invocation). */
async function generate(): Promise<void> {
  rmSync(SRC, { recursive: true, force: true });
  const root = join(SRC, "proj");
  const rand = lcg(42);
  mkdirSync(join(root, "include"), { recursive: true });
  for (let i = 0; i < HEADERS; i++) writeFileSync(join(root, "include", `h${i}.h`), header(i));
  const objs: string[] = [];
  for (let i = 0; i < C_FILES; i++) {
    const dir = join(root, "src", `mod${i % 8}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file${i}.c`), source(i, rand));
    objs.push(`src/mod${i % 8}/file${i}.o`);
  }
  writeFileSync(join(root, "src", "main.c"), `#include <stdio.h>\nint main(void) { puts("built"); return 0; }\n`);
  for (let i = 0; i < DATA_FILES; i++) {
    const dir = join(root, "data", `d${i % 30}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `item${i}.txt`), `item ${i}\n`.repeat(100 + Math.floor(rand() * 400)));
  }
  writeFileSync(
    join(root, "Makefile"),
    `CFLAGS = -O1 -Iinclude
OBJS = ${objs.join(" ")}
all: app
%.o: %.c
\t$(CC) $(CFLAGS) -c $< -o $@
libgen.a: $(OBJS)
\tar rcs $@ $^
app: src/main.o libgen.a
\t$(CC) -o $@ src/main.o libgen.a
`,
  );
  await run(["tar", "-C", SRC, "-czf", TARBALL, "proj"]);
}

interface Times {
  untar: number;
  build: number;
  total: number;
  /** CPU seconds of tar and make with everything make ran */
  cpu: number;
}

async function once(): Promise<Times> {
  rmSync(DEST, { recursive: true, force: true });
  mkdirSync(DEST, { recursive: true });
  const t0 = performance.now();
  const tar = await run(["tar", "-C", DEST, "-xzf", TARBALL]);
  const t1 = performance.now();
  const make = await run(["make", "-s", "-j2", "-C", join(DEST, "proj")]);
  const t2 = performance.now();
  return { untar: (t1 - t0) / 1000, build: (t2 - t1) / 1000, total: (t2 - t0) / 1000, cpu: (tar.cpuMs + make.cpuMs) / 1000 };
}

export const macro: Bench = {
  name: "macro",
  title: `Untar + make -j2 of ${C_FILES} generated C files (+${DATA_FILES} data files), wall time`,
  async run(ctx: Ctx): Promise<Row[]> {
    await generate();
    try {
      await once(); // warm the page cache and gcc
      const r = await pairedRounds(ctx, "macro", once);
      const rows: Row[] = [];
      for (const part of ["untar", "build", "total"] as const) {
        const total = part === "total";
        const row = pairedRow(
          r,
          (x) => x[part],
          {
            bench: "macro",
            metric: `${part} s`,
            target: total ? "≤ 1.05×" : undefined,
            note: total
              ? `agent ${(median(r.samples.map((s) => s.cpuSec / s.wallSec)) * 100).toFixed(0)}% of a core; ${lossNote(r.samples)}`
              : undefined,
          },
          total ? (x) => x.cpu : undefined,
        );
        rows.push(total ? { ...row, met: row.ratio <= 1.05 } : row);
      }
      return rows;
    } finally {
      rmSync(DEST, { recursive: true, force: true });
    }
  },
};
