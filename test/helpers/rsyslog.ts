/**
 * A real rsyslog relay for tests: Debian's rsyslogd in the foreground with a private
 * configuration (its own port, work directory and PID file; no imuxsock, no system
 * configuration, nothing of the host's daemon), listening with imtcp, plain or TLS
 * (gtls: the server certificate, and the agent's client certificate required and checked
 * by name), writing each message's sender fields and MSG to a file, one per line.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import type { TestCerts } from "./certs.ts";

export interface RelayMessage {
  readonly hostname: string;
  readonly app: string;
  readonly procid: string;
  /** MSG: the record's one-line JSON */
  readonly msg: string;
}

/** Whether something listens on TCP port (from /proc/net/tcp and tcp6, state 0A). */
function listening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex) && f[3] === "0A") return true;
    }
  }
  return false;
}

/** relays not stopped yet: a test that failed or timed out must not leave one running */
const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export class Rsyslog {
  readonly output: string;
  private readonly conf: string;
  private readonly pidFile: string;
  private proc: Subprocess<"ignore", "ignore", "pipe"> | undefined;
  private stderrText = "";

  /** dir: the relay's own directory; certs: TLS with a client certificate named kflowd-agent. */
  constructor(
    readonly dir: string,
    readonly port: number,
    certs?: TestCerts,
  ) {
    mkdirSync(`${dir}/work`, { recursive: true });
    this.output = `${dir}/received.log`;
    this.conf = `${dir}/rsyslog.conf`;
    this.pidFile = `${dir}/rsyslog.pid`;
    const tls = certs
      ? {
          global: ` DefaultNetstreamDriverCAFile="${certs.ca}" DefaultNetstreamDriverCertFile="${certs.serverCert}" DefaultNetstreamDriverKeyFile="${certs.serverKey}"`,
          module: ` StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/name" PermittedPeer=["kflowd-agent"]`,
        }
      : { global: "", module: "" };
    writeFileSync(
      this.conf,
      [
        `global(workDirectory="${dir}/work" maxMessageSize="64k"${tls.global})`,
        `module(load="imtcp"${tls.module})`,
        `input(type="imtcp" address="127.0.0.1" port="${port}")`,
        'template(name="fields" type="string" string="%hostname%\\t%app-name%\\t%procid%\\t%msg%\\n")',
        `action(type="omfile" file="${this.output}" template="fields")`,
        "",
      ].join("\n"),
    );
  }

  /** Starts rsyslogd and waits until it listens. */
  async start(): Promise<void> {
    const proc = Bun.spawn(["rsyslogd", "-n", "-f", this.conf, "-i", this.pidFile], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    this.proc = proc;
    running.add(proc);
    void proc.exited.then(() => running.delete(proc));
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stderr) this.stderrText += decoder.decode(chunk, { stream: true });
    })();
    const deadline = Date.now() + 10_000;
    while (!listening(this.port)) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`rsyslogd did not start listening on ${this.port}: ${this.stderrText}`);
      }
      await Bun.sleep(20);
    }
  }

  /** Stops it (SIGTERM: it closes its connections and writes what it has) and waits for its exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    p.kill("SIGTERM");
    await p.exited;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** The messages written so far (whole lines only). */
  messages(): RelayMessage[] {
    let text: string;
    try {
      text = readFileSync(this.output, "utf8");
    } catch {
      return [];
    }
    const lines = text.split("\n");
    lines.pop();
    return lines.map((l) => {
      const [hostname = "", app = "", procid = "", ...rest] = l.split("\t");
      return { hostname, app, procid, msg: rest.join("\t") };
    });
  }
}
