/**
 * -p: which (protocol, port) pairs carry which application messages, in kflowd's syntax:
 * NAME=PROTO/PORT,... or NAME=off, one application per option, NAME case-insensitive.
 */
import { AppKind } from "./records/layout.gen.ts";

export interface AppPort {
  readonly app: number;
  readonly proto: "tcp" | "udp";
  readonly port: number;
}

export interface AppPorts {
  readonly ports: readonly AppPort[];
  /** syslog datagrams to /dev/log and journald's dev-log */
  readonly unixSyslog: boolean;
}

const APPS: Record<string, { kind: number; protos: readonly string[]; unix: boolean; defaults: string }> = {
  dns: { kind: AppKind.APP_DNS, protos: ["udp", "tcp"], unix: false, defaults: "udp/53,tcp/53" },
  http: { kind: AppKind.APP_HTTP, protos: ["tcp"], unix: false, defaults: "tcp/80" },
  syslog: { kind: AppKind.APP_SYSLOG, protos: ["udp", "tcp"], unix: true, defaults: "udp/514,tcp/514,unix" },
};

/** most ports per application, as kflowd */
const MAX_PER_APP = 8;

/** Parses the -p values (any number of them); returns the ports or an error message. */
export function parseAppPorts(specs: readonly string[]): AppPorts | string {
  const chosen = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq).toLowerCase();
    if (eq < 0 || !APPS[name]) return `'${spec}' is not NAME=PROTO/PORT,... with NAME dns, http or syslog`;
    if (chosen.has(name)) return `${name} is given more than once`;
    chosen.set(name, spec.slice(eq + 1));
  }
  const ports: AppPort[] = [];
  let unixSyslog = false;
  for (const [name, app] of Object.entries(APPS)) {
    const value = chosen.get(name) ?? app.defaults;
    if (value.toLowerCase() === "off") continue;
    const items = value.split(",");
    if (items.length > MAX_PER_APP) return `${name}: at most ${MAX_PER_APP} entries`;
    const seen = new Set<string>();
    for (const item of items) {
      const lower = item.toLowerCase();
      if (seen.has(lower)) return `${name}: '${item}' is given twice`;
      seen.add(lower);
      if (lower === "unix" && app.unix) {
        unixSyslog = true;
        continue;
      }
      const m = /^(tcp|udp)\/(\d{1,5})$/.exec(lower);
      const port = m ? Number(m[2]) : 0;
      if (!m || !app.protos.includes(m[1]!) || port < 1 || port > 65535) {
        return `${name}: '${item}' is not ${app.protos.map((p) => `${p}/PORT`).join(" or ")}${app.unix ? " or unix" : ""} with a port from 1 to 65535`;
      }
      ports.push({ app: app.kind, proto: m[1] as "tcp" | "udp", port });
    }
  }
  return { ports, unixSyslog };
}

/** The ports back in -p's syntax, one application after another: "dns=udp/53,tcp/53 http=off ...". */
export function appPortsText(apps: AppPorts): string {
  return Object.entries(APPS)
    .map(([name, spec]) => {
      const ports = apps.ports.filter((p) => p.app === spec.kind).map((p) => `${p.proto}/${p.port}`);
      if (spec.unix && apps.unixSyslog) ports.push("unix");
      return `${name}=${ports.length ? ports.join(",") : "off"}`;
    })
    .join(" ");
}
