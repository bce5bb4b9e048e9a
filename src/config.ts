/** The validated configuration of one agent run, built from the parsed command line. */
import * as v from "valibot";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { parseAppPorts } from "./app-ports.ts";
import { type RawOptions, UsageError } from "./cli.ts";

/** --self-test: what a failed start-up self-test does (off: none is run). */
export const SELF_TEST_MODES = ["warn", "fatal", "off"] as const;

export const OUTPUT_FORMATS = ["json", "json-min", "table"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** kflowd's rule: a prefix of 'json' means pretty JSON, longer ones must prefix 'json-min'. */
export function outputFormat(value: string): OutputFormat | undefined {
  if (value.length === 0) return undefined;
  if ("json".startsWith(value)) return "json";
  if (value.length > 5 && "json-min".startsWith(value)) return "json-min";
  if ("table".startsWith(value)) return "table";
  return undefined;
}

/** -D: '*' or an executable's name (a basename: no slash, at most NAME_MAX bytes). */
function debugProcess(text: string): string | undefined {
  return text !== "" && !text.includes("/") && Buffer.byteLength(text) <= 255 ? text : undefined;
}

const DIGITS = /^[0-9]+$/;

/** A whole number 1..max written in digits, or undefined. */
function positive(text: string, max: number): number | undefined {
  if (!DIGITS.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= max ? n : undefined;
}

/** kflowd's IDLE[,ACTIVE] with either part optional, in seconds. */
export function timeouts(text: string): { idleSec: number; activeSec: number } | string {
  const parts = text.split(",");
  if (parts.length > 2 || (parts[0] === "" && (parts[1] ?? "") === "")) return "expects IDLE[,ACTIVE] in seconds";
  const out = { idleSec: DEFAULT_IDLE_SEC, activeSec: DEFAULT_ACTIVE_SEC };
  for (const [i, part] of parts.entries()) {
    if (part === "") continue;
    const n = positive(part, MAX_TIMEOUT_SEC);
    if (n === undefined) return `'${part}' is not a number of seconds from 1 to ${MAX_TIMEOUT_SEC}`;
    if (i === 0) out.idleSec = n;
    else out.activeSec = n;
  }
  return out;
}

export const DEFAULT_IDLE_SEC = 15;
export const DEFAULT_ACTIVE_SEC = 1800;
/** a week: longer timeouts only mean records are never printed */
const MAX_TIMEOUT_SEC = 7 * 24 * 3600;

/** A whole number option in [min, max], or its default when not given. */
function countOption(flag: string, what: string, min: number, max: number, fallback: number) {
  return v.pipe(
    v.union([v.string(), v.number(), v.undefined()], `option ${flag} needs a ${what}`),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === undefined) return fallback;
      const text = String(dataset.value);
      const n = DIGITS.test(text) ? Number(text) : Number.NaN;
      if (n >= min && n <= max) return n;
      addIssue({ message: `option ${flag}: '${text}' is not a ${what} from ${min} to ${max}` });
      return NEVER;
    }),
  );
}

/** What -m selects. */
export interface Monitor {
  readonly file: boolean;
  readonly socket: boolean;
}

/** kflowd's -m: a comma list of prefixes of "file" and "socket" ("f", "sock", ...). */
export function parseMonitor(text: string): Monitor | string {
  const out = { file: false, socket: false };
  for (const token of text.split(",")) {
    if (token !== "" && "file".startsWith(token)) out.file = true;
    else if (token !== "" && "socket".startsWith(token)) out.socket = true;
    else return `'${token}' is neither file nor socket`;
  }
  return out;
}

/** -u: IP:PORT,... with IPv6 as ::1:2056 (kflowd: split at the last colon) or [::1]:2056. */
export function parseCollectors(text: string): { host: string; port: number; family: 4 | 6 }[] | string {
  const out: { host: string; port: number; family: 4 | 6 }[] = [];
  for (const item of text.split(",")) {
    const colon = item.lastIndexOf(":");
    let host = item.slice(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
    const port = positive(item.slice(colon + 1), 65535);
    const family = isIP(host);
    if (colon < 0 || !family || port === undefined) return `'${item}' is not IP:PORT (an IPv4 or IPv6 address and a port from 1 to 65535)`;
    out.push({ host, port, family: family as 4 | 6 });
  }
  return out;
}

/** A syslog relay: --syslog tcp://HOST:PORT or tls://HOST:PORT. */
export interface SyslogTarget {
  readonly scheme: "tcp" | "tls";
  /** a DNS name, an IPv4 address or an IPv6 address (without brackets) */
  readonly host: string;
  readonly port: number;
}

/** Letters, digits, '-' and '.', as in DNS names (RFC 1123), at most 253 characters. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/** --syslog: tcp://HOST:PORT or tls://HOST:PORT, an IPv6 HOST in brackets. */
export function parseSyslogTarget(text: string): SyslogTarget | string {
  const m = /^(tcp|tls):\/\/(\[[^\]]*\]|[^:/]*):([0-9]+)$/.exec(text);
  const port = m ? positive(m[3]!, 65535) : undefined;
  const bracketed = m ? m[2]!.startsWith("[") : false;
  const host = m ? (bracketed ? m[2]!.slice(1, -1) : m[2]!) : "";
  const valid = bracketed ? isIP(host) === 6 : isIP(host) === 4 || HOST_NAME.test(host);
  if (!m || port === undefined || !valid) {
    return `'${text}' is not tcp://HOST:PORT or tls://HOST:PORT (a DNS name, an IPv4 address or an IPv6 address in brackets, and a port from 1 to 65535)`;
  }
  return { scheme: m[1] as "tcp" | "tls", host, port };
}

/** A file named by an option, made absolute against the working directory. */
function pathOption(flag: string) {
  return v.optional(
    v.pipe(
      v.string(`option ${flag} needs a path`),
      v.minLength(1, `option ${flag} needs a path`),
      v.maxLength(4095, `option ${flag} takes a path of at most 4095 characters`),
      v.transform((path) => resolve(path)),
    ),
  );
}

/** An IP:PORT option with a single address (--metrics). */
function endpointOption(flag: string) {
  return v.optional(
    v.pipe(
      v.string(`option ${flag} needs IP:PORT`),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const parsed = dataset.value.includes(",") ? `'${dataset.value}' is one IP:PORT, not a list` : parseCollectors(dataset.value);
        if (typeof parsed !== "string") return parsed[0]!;
        addIssue({ message: `option ${flag}: ${parsed}` });
        return NEVER;
      }),
    ),
  );
}

const MIB = 1 << 20;

const OptionsSchema = v.object({
  collectors: v.pipe(
    v.union([v.string(), v.undefined()], "option -u needs IP:PORT,..."),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === undefined) return [];
      const c = parseCollectors(dataset.value);
      if (typeof c !== "string") return c;
      addIssue({ message: `option -u: ${c}` });
      return NEVER;
    }),
  ),
  quiet: v.optional(v.boolean("option -q takes no value"), false),
  monitor: v.pipe(
    v.union([v.string(), v.undefined()], "option -m needs file, socket or both"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === undefined) return { file: true, socket: true };
      const m = parseMonitor(dataset.value);
      if (typeof m !== "string") return m;
      addIssue({ message: `option -m: ${m}` });
      return NEVER;
    }),
  ),
  apps: v.pipe(
    v.union([v.string(), v.array(v.string()), v.undefined()], "option -p needs NAME=PROTO/PORT,..."),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const specs = dataset.value === undefined ? [] : Array.isArray(dataset.value) ? dataset.value : [dataset.value];
      const parsed = parseAppPorts(specs);
      if (typeof parsed !== "string") return parsed;
      addIssue({ message: `option -p: ${parsed}` });
      return NEVER;
    }),
  ),
  appBytes: countOption("--app-bytes", "count of bytes", 1, 4095, 1400),
  appMessages: countOption("--app-messages", "count of messages", 1, 1024, 4),
  eventsMax: v.pipe(
    v.union([v.string(), v.number(), v.undefined()], "option -e needs a count"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === undefined) return 0; // off
      const text = String(dataset.value);
      const n = positive(text, 0xffffffff);
      if (n !== undefined) return n;
      addIssue({ message: `option -e: '${text}' is not a count of events from 1 to ${0xffffffff}` });
      return NEVER;
    }),
  ),
  timeouts: v.pipe(
    v.union([v.string(), v.number(), v.undefined()], "option -t needs IDLE[,ACTIVE]"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === undefined) return { idleSec: DEFAULT_IDLE_SEC, activeSec: DEFAULT_ACTIVE_SEC };
      const t = timeouts(String(dataset.value));
      if (typeof t !== "string") return t;
      addIssue({ message: `option -t: ${t}` });
      return NEVER;
    }),
  ),
  output: v.pipe(
    v.optional(v.string("option -o needs a format"), "json"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const format = outputFormat(dataset.value);
      if (format) return format;
      addIssue({ message: `invalid output format '${dataset.value}' (expected json, json-min or table)` });
      return NEVER;
    }),
  ),
  rs: v.optional(v.boolean("option --rs takes no value"), false),
  hostToken: v.optional(
    v.pipe(
      v.string("option -T needs a token"),
      v.minLength(1, "option -T needs a non-empty token"),
      v.maxLength(255, "option -T takes at most 255 characters"),
    ),
  ),
  verbose: v.optional(v.boolean("option -V takes no value"), false),
  versions: v.optional(v.boolean("option -v takes no value"), false),
  checksums: v.optional(v.boolean("option -c takes no value"), false),
  daemon: v.optional(v.boolean("option -d takes no value"), false),
  debugProcess: v.optional(
    v.pipe(
      v.string("option -D needs a process name or '*'"),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const name = debugProcess(dataset.value);
        if (name !== undefined) return name;
        addIssue({ message: `option -D: '${dataset.value}' is not '*' or an executable's name (no '/', at most 255 bytes)` });
        return NEVER;
      }),
    ),
  ),
  pluginPath: v.optional(
    v.pipe(v.string("option -P needs a path"), v.maxLength(4095, "option -P takes a path of at most 4095 characters")),
  ),
  selfTest: v.optional(v.picklist(SELF_TEST_MODES, `option --self-test: expected ${SELF_TEST_MODES.join(", ")}`), "warn"),
  syslog: v.optional(
    v.pipe(
      v.string("option --syslog needs tcp://HOST:PORT or tls://HOST:PORT"),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const t = parseSyslogTarget(dataset.value);
        if (typeof t !== "string") return t;
        addIssue({ message: `option --syslog: ${t}` });
        return NEVER;
      }),
    ),
  ),
  syslogCa: pathOption("--syslog-ca"),
  syslogCert: pathOption("--syslog-cert"),
  syslogKey: pathOption("--syslog-key"),
  syslogSpoolMiB: v.optional(countOption("--syslog-spool", "number of MiB", 1, 4096, 32)),
  outputFile: pathOption("--output-file"),
  outputFileSizeMiB: v.optional(countOption("--output-file-size", "number of MiB", 1, 1 << 20, 100)),
  outputFileKeep: v.optional(countOption("--output-file-keep", "count of files", 1, 1000, 5)),
  metrics: endpointOption("--metrics"),
});

/** --syslog and the options that go with it. */
export interface SyslogConfig extends SyslogTarget {
  /** the text given, for messages */
  readonly url: string;
  /** tls: PEM files */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** memory for records not yet taken by the relay and the resend window */
  readonly spoolBytes: number;
}

/** --output-file and the options that go with it. */
export interface OutputFileConfig {
  readonly path: string;
  readonly maxBytes: number;
  readonly keep: number;
}

/** Options whose meaning depends on another one: checked together, then grouped. */
const ConfigSchema = v.pipe(
  OptionsSchema,
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const { syslog, syslogCa, syslogCert, syslogKey, syslogSpoolMiB, outputFile, outputFileSizeMiB, outputFileKeep, ...rest } =
      dataset.value;
    const problem = (message: string): typeof NEVER => {
      addIssue({ message });
      return NEVER;
    };
    for (const [flag, given] of [
      ["--syslog-ca", syslogCa],
      ["--syslog-cert", syslogCert],
      ["--syslog-key", syslogKey],
    ] as const) {
      if (given !== undefined && syslog?.scheme !== "tls") return problem(`option ${flag} needs --syslog tls://HOST:PORT`);
    }
    if (syslogSpoolMiB !== undefined && !syslog) return problem("option --syslog-spool needs --syslog");
    if (syslog?.scheme === "tls" && syslogCa === undefined) {
      return problem("option --syslog tls://...: needs --syslog-ca with the CA that signed the relay's certificate");
    }
    if ((syslogCert === undefined) !== (syslogKey === undefined)) {
      return problem("options --syslog-cert and --syslog-key go together: a client certificate and its key");
    }
    if (outputFileSizeMiB !== undefined && !outputFile) return problem("option --output-file-size needs --output-file");
    if (outputFileKeep !== undefined && !outputFile) return problem("option --output-file-keep needs --output-file");
    const syslogConfig: SyslogConfig | undefined = syslog && {
      ...syslog,
      url: `${syslog.scheme}://${isIP(syslog.host) === 6 ? `[${syslog.host}]` : syslog.host}:${syslog.port}`,
      ca: syslogCa,
      cert: syslogCert,
      key: syslogKey,
      spoolBytes: (syslogSpoolMiB ?? 32) * MIB,
    };
    const fileConfig: OutputFileConfig | undefined = outputFile
      ? { path: outputFile, maxBytes: (outputFileSizeMiB ?? 100) * MIB, keep: outputFileKeep ?? 5 }
      : undefined;
    const grouped: { syslog?: SyslogConfig; outputFile?: OutputFileConfig } = {};
    if (syslogConfig) grouped.syslog = syslogConfig;
    if (fileConfig) grouped.outputFile = fileConfig;
    return { ...rest, ...grouped };
  }),
);

export type Config = v.InferOutput<typeof ConfigSchema>;

/** Whether records have somewhere to go besides stdout (-u, --syslog, --output-file). */
export function hasOtherOutputs(c: Pick<Config, "collectors" | "syslog" | "outputFile">): boolean {
  return c.collectors.length > 0 || c.syslog !== undefined || c.outputFile !== undefined;
}

/** Validates the parsed options; throws UsageError with the first problem. */
export function buildConfig(raw: RawOptions): Config {
  const result = v.safeParse(ConfigSchema, {
    collectors: raw.collectors,
    quiet: raw.quiet,
    monitor: raw.monitor,
    apps: raw.apps,
    appBytes: raw.appBytes,
    appMessages: raw.appMessages,
    eventsMax: raw.events,
    timeouts: raw.timeouts,
    output: raw.output,
    rs: raw.rs,
    hostToken: raw.token,
    verbose: raw.verbose,
    versions: raw.versions,
    checksums: raw.checksums,
    daemon: raw.daemon,
    debugProcess: raw.debug,
    pluginPath: raw.plugins,
    selfTest: raw.selfTest,
    syslog: raw.syslog,
    syslogCa: raw.syslogCa,
    syslogCert: raw.syslogCert,
    syslogKey: raw.syslogKey,
    syslogSpoolMiB: raw.syslogSpool,
    outputFile: raw.outputFile,
    outputFileSizeMiB: raw.outputFileSize,
    outputFileKeep: raw.outputFileKeep,
    metrics: raw.metrics,
  });
  if (!result.success) throw new UsageError(result.issues[0].message);
  if (result.output.quiet && !hasOtherOutputs(result.output)) {
    throw new UsageError("option -q needs -u, --syslog or --output-file: without them nothing would be printed anywhere");
  }
  if (result.output.rs && result.output.output === "table") {
    throw new UsageError("option --rs is for JSON output (-o json-min); a table has no records to separate");
  }
  if (result.output.daemon && !hasOtherOutputs(result.output)) {
    throw new UsageError("option -d needs -u, --syslog or --output-file: a daemon prints no records, so they must go elsewhere");
  }
  return result.output;
}
