/**
 * Root-only suites skip, with the reason, when root or BTF is missing. In CI (CI=true)
 * nothing may skip: a missing privilege there is a failure.
 */
import { existsSync } from "node:fs";

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "needs kernel BTF (/sys/kernel/btf/vmlinux)";
  return undefined;
}

/** True if the suite must skip; prints why. Throws in CI instead of skipping. */
export function skipWithoutKernel(suite: string): boolean {
  const why = missing();
  if (!why) return false;
  if (process.env.CI) throw new Error(`${suite}: ${why}, and CI must not skip it`);
  console.warn(`skipping ${suite}: ${why}`);
  return true;
}
