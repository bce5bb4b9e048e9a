/** The kernels of the matrix: Debian's, booted under QEMU TCG. */
import type { DebArch, Suite } from "../../scripts/debian.ts";

export interface KernelTarget {
  /** "6.1-amd64" */
  readonly id: string;
  readonly arch: DebArch;
  readonly suite: Suite;
  /** the newest linux-image package matching this is used */
  readonly image: RegExp;
}

function target(series: string, arch: DebArch, suite: "bookworm" | "bullseye", image: RegExp): KernelTarget {
  return { id: `${series}-${arch}`, arch, suite: { name: suite, arch }, image };
}

export const KERNELS: readonly KernelTarget[] = [
  target("5.10", "amd64", "bullseye", /^linux-image-5\.10\.0-\d+-cloud-amd64$/),
  target("6.1", "amd64", "bookworm", /^linux-image-6\.1\.0-\d+-cloud-amd64$/),
  target("6.12", "amd64", "bookworm", /^linux-image-6\.12\.\d+\+deb12-cloud-amd64$/),
  target("6.1", "arm64", "bookworm", /^linux-image-6\.1\.0-\d+-cloud-arm64$/),
  target("6.12", "arm64", "bookworm", /^linux-image-6\.12\.\d+\+deb12-cloud-arm64$/),
];
