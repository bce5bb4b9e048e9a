/**
 * Cost of draining the ring buffer per record, through the shim (one FFI call per
 * batch into a JS buffer) against a baseline in the same run: libbpf calling a
 * JSCallback per record that copies it out. The ring is filled with real file records
 * while nobody consumes, then drained and timed. Root only.
 * Usage: bun bench/ring-drain.ts [records per round] [rounds]
 */
import { dlopen, FFIType, JSCallback, toArrayBuffer, type Pointer } from "bun:ffi";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { loadLibbpf } from "../ffi/libbpf.ts";
import { loadShim } from "../ffi/shim.ts";
import { RingReader } from "../src/ingest/ring.ts";
import { startKernel } from "../src/kernel.ts";
import { RecFile } from "../src/records/layout.gen.ts";
import { BPF_OBJECT, SHIM } from "../test/helpers/paths.ts";

const RECORDS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);

const { lib } = loadLibbpf();
const shim = await loadShim(SHIM);
shim.kf_log_init(0);
const session = startKernel(lib, shim, await Bun.file(BPF_OBJECT).bytes(), {
  agentPid: 0, // our own file activity is the producer
  ringBytes: 64 << 20,
  fileEntries: 1024,
  eventsMax: 0,
  sockEntries: 256,
  apps: { ports: [], unixSyslog: false },
  appBytes: 1400,
  monitor: { file: true, socket: true },
});
const ringFd = session.object.mapFd("ring");
const dir = mkdtempSync(`${tmpdir()}/kflowd-bench-`);

/** Produces n file records (open, write, close of one file each). */
function produce(n: number): void {
  const payload = Buffer.from("x");
  for (let i = 0; i < n; i++) {
    const fd = openSync(`${dir}/f${i & 63}`, "w");
    writeSync(fd, payload);
    closeSync(fd);
  }
}

/** Drains everything through the shim; returns [records, ns]. */
function drainShim(reader: RingReader): [number, number] {
  let records = 0;
  const t0 = Bun.nanoseconds();
  records = reader.drain(() => {});
  return [records, Bun.nanoseconds() - t0];
}

const rb = dlopen("libbpf.so.1", {
  ring_buffer__new: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.ptr },
  ring_buffer__consume: { args: [FFIType.ptr], returns: FFIType.i32 },
  ring_buffer__free: { args: [FFIType.ptr], returns: FFIType.void },
}).symbols;

/** Baseline: one JSCallback per record, copying it into a JS buffer. */
function drainCallback(): [number, number] {
  const out = new Uint8Array(1 << 20);
  let used = 0;
  let records = 0;
  const cb = new JSCallback(
    (_ctx: Pointer, data: Pointer, size: number) => {
      const n = Number(size);
      if (used + n > out.length) used = 0;
      out.set(new Uint8Array(toArrayBuffer(data, 0, n)), used);
      used += n;
      records++;
      return 0;
    },
    { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  );
  const ring = rb.ring_buffer__new(ringFd, cb.ptr, null, null);
  const t0 = Bun.nanoseconds();
  rb.ring_buffer__consume(ring);
  const ns = Bun.nanoseconds() - t0;
  rb.ring_buffer__free(ring);
  cb.close();
  return [records, ns];
}

const reader = new RingReader(session.object.openRing("ring", RecFile.SIZE), 1 << 20);
reader.drain(() => {}); // start empty
const shimNs: number[] = [];
const cbNs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  produce(RECORDS);
  const [a, t1] = drainShim(reader);
  produce(RECORDS);
  const [b, t2] = drainCallback();
  if (a < RECORDS * 0.99 || b < RECORDS * 0.99) throw new Error(`expected ${RECORDS} records, drained ${a} and ${b}`);
  shimNs.push(t1 / a);
  cbNs.push(t2 / b);
}
reader.close();
session.object.close();
rmSync(dir, { recursive: true });

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const s = median(shimNs);
const c = median(cbNs);
console.log(`ring drain, ${RECORDS} file records per round, ${ROUNDS} rounds (median):`);
console.log(`  shim batch drain       ${s.toFixed(1)} ns/record`);
console.log(`  baseline JSCallback    ${c.toFixed(1)} ns/record`);
console.log(`  ratio shim/baseline    ${(s / c).toFixed(2)}`);
