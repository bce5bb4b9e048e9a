/**
 * Carves the kernel's BTF out of an uncompressed arm64 kernel Image (Debian's arm64
 * vmlinuz is one), for `bpftool btf dump file OUT format c > vmlinux.h`.
 * The x86 header comes from a running kernel's /sys/kernel/btf/vmlinux instead.
 * Usage: bun bpf/vmlinux/extract-btf.ts IMAGE OUT
 */
import { readFileSync, writeFileSync } from "node:fs";

const BTF_MAGIC = 0xeb9f;
const HDR_LEN = 0x18;

/** The largest well-formed BTF blob in image, or undefined. */
export function findBtf(image: Uint8Array): Uint8Array | undefined {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  let best: Uint8Array | undefined;
  for (let i = 0; i + HDR_LEN <= image.length; i++) {
    // magic 0xeb9f (little-endian 9f eb), version 1, flags 0, hdr_len 0x18
    if (image[i] !== 0x9f || image[i + 1] !== 0xeb || image[i + 2] !== 1 || image[i + 3] !== 0) continue;
    if (view.getUint16(i, true) !== BTF_MAGIC || view.getUint32(i + 4, true) !== HDR_LEN) continue;
    const typeEnd = view.getUint32(i + 8, true) + view.getUint32(i + 12, true);
    const strEnd = view.getUint32(i + 16, true) + view.getUint32(i + 20, true);
    const size = HDR_LEN + Math.max(typeEnd, strEnd);
    if (i + size > image.length) continue;
    if (!best || size > best.length) best = image.subarray(i, i + size);
  }
  return best;
}

if (import.meta.main) {
  const [image, out] = process.argv.slice(2);
  if (!image || !out) throw new Error("usage: extract-btf.ts IMAGE OUT");
  const btf = findBtf(new Uint8Array(readFileSync(image)));
  if (!btf || btf.length < 1 << 20) throw new Error(`no kernel BTF found in ${image}`);
  writeFileSync(out, btf);
  console.log(`${out}: ${btf.length} bytes`);
}
