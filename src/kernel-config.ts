/** Values from the running kernel's build configuration, where the host provides it. */
import { gunzipSync } from "bun";
import { readFileSync } from "node:fs";
import { release } from "node:os";

/** The text of the kernel config: /proc/config.gz, else /boot/config-<release>; "" if neither. */
export function kernelConfigText(): string {
  try {
    return new TextDecoder().decode(gunzipSync(readFileSync("/proc/config.gz")));
  } catch {}
  try {
    return readFileSync(`/boot/config-${release()}`, "utf8");
  } catch {}
  return "";
}

/** CONFIG_HZ (timer ticks per second), or 0 when the config is not available. */
export function kernelHz(config: string): number {
  const m = /^CONFIG_HZ=(\d+)$/m.exec(config);
  return m ? Number(m[1]) : 0;
}
