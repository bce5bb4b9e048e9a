/** The kernels of the matrix: Debian's, booted under QEMU TCG. */
import type { DebArch, Suite, SuiteName } from "../../scripts/debian.ts";

export interface KernelTarget {
  /** "6.1-amd64", or for the newest of a suite "trixie-backports-amd64" */
  readonly id: string;
  readonly arch: DebArch;
  readonly suite: Suite;
  /** the newest linux-image package matching this is used */
  readonly image: RegExp;
}

function target(series: string, arch: DebArch, suite: SuiteName, image: RegExp): KernelTarget {
  return { id: `${series}-${arch}`, arch, suite: { name: suite, arch }, image };
}

/**
 * The newest cloud image of a suite whatever its series: every versioned cloud image of
 * the suite matches (linux-image-7.3.4+deb13-cloud-amd64; not the linux-image-cloud-amd64
 * meta package, not -dbg), and newestPackage() takes the highest in version order, so a
 * new series (6.19 -> 7.0 -> 7.3) is picked up as soon as the suite has it.
 */
function newest(suite: SuiteName, arch: DebArch): KernelTarget {
  return target(suite, arch, suite, new RegExp(`^linux-image-\\d+\\.\\d+\\.\\d+\\+deb\\d+-cloud-${arch}$`));
}

export const KERNELS: readonly KernelTarget[] = [
  target("5.10", "amd64", "bullseye", /^linux-image-5\.10\.0-\d+-cloud-amd64$/),
  target("6.1", "amd64", "bookworm", /^linux-image-6\.1\.0-\d+-cloud-amd64$/),
  target("6.12", "amd64", "bookworm", /^linux-image-6\.12\.\d+\+deb12-cloud-amd64$/),
  // the last 6.x series, kept while trixie-backports carries it beside the newest
  target("6.19", "amd64", "trixie-backports", /^linux-image-6\.19\.\d+\+deb13-cloud-amd64$/),
  newest("trixie-backports", "amd64"),
  newest("unstable", "amd64"),
  target("6.1", "arm64", "bookworm", /^linux-image-6\.1\.0-\d+-cloud-arm64$/),
  target("6.12", "arm64", "bookworm", /^linux-image-6\.12\.\d+\+deb12-cloud-arm64$/),
  target("6.19", "arm64", "trixie-backports", /^linux-image-6\.19\.\d+\+deb13-cloud-arm64$/),
  newest("trixie-backports", "arm64"),
  newest("unstable", "arm64"),
];
