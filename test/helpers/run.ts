/** Running real tools in the tests. */

export interface Ran {
  readonly pid: number;
  readonly code: number;
  readonly stdout: string;
}

/** Runs a command to its end; its pid is the ProcPID of its records. */
export async function run(cmd: string[]): Promise<Ran> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  const stdout = await new Response(p.stdout).text();
  return { pid: p.pid, code: await p.exited, stdout };
}
