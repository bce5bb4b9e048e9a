/**
 * -d: the agent runs on in a new session, detached from the terminal. Bun cannot fork,
 * so the command re-runs itself as a detached child and waits until the child reports
 * that it is attached (a line on an inherited pipe) or has exited; the caller then gets
 * an honest exit code and the daemon's PID, as with kflowd's daemon() but without
 * reporting success before the kernel side is known to work.
 */
import { spawn } from "node:child_process";
import { closeSync, writeSync } from "node:fs";

/** set in the child's environment: the descriptor on which it reports readiness */
const READY_FD_ENV = "KFLOWD_DAEMON_READY_FD";
const READY_FD = 3;

/** True in the detached child (which must not detach again). */
export function isDaemonChild(): boolean {
  return process.env[READY_FD_ENV] === String(READY_FD);
}

/**
 * In the child, once the options are read (their relative paths made absolute against the
 * directory the command ran in): the agent runs on in "/", keeping no directory busy.
 */
export function enterDaemonDir(): void {
  if (isDaemonChild()) process.chdir("/");
}

/** In the child: tells the waiting command that the agent is attached. */
export function reportDaemonReady(): void {
  if (!isDaemonChild()) return;
  delete process.env[READY_FD_ENV];
  try {
    writeSync(READY_FD, "ready\n");
    closeSync(READY_FD);
  } catch {
    // the command that started us is gone: nobody is waiting
  }
}

/**
 * In the command: starts the detached agent with the same arguments and resolves to the
 * exit code for the command: 0 once the child is attached, else the child's own code
 * (its reason is already on the shared stderr).
 */
export function startDaemon(argv: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [...argv], {
    detached: true,
    // the child resolves relative paths of its options here, then moves to "/" (enterDaemonDir)
    // records go to collectors only; stderr stays shared, as kflowd's daemon(1, 1) kept it
    stdio: ["ignore", "ignore", "inherit", "pipe"],
    env: { ...process.env, [READY_FD_ENV]: String(READY_FD) },
  });
  return new Promise((resolve) => {
    const ready = child.stdio[READY_FD] as NodeJS.ReadableStream & { destroy(): void };
    ready.once("data", () => {
      process.stderr.write(`kflowd: running in the background with PID ${child.pid}\n`);
      child.removeAllListeners("exit");
      ready.destroy();
      child.unref();
      resolve(0);
    });
    child.once("exit", (code, signal) => {
      if (signal) process.stderr.write(`kflowd: the background agent was killed by ${signal} while starting\n`);
      resolve(code || 1);
    });
    child.once("error", (e) => {
      process.stderr.write(`kflowd: cannot start the background agent: ${e.message}\n`);
      resolve(1);
    });
  });
}
