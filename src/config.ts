/** The validated configuration of one agent run, built from the parsed command line. */
import * as v from "valibot";
import { isIP } from "node:net";
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

const ConfigSchema = v.object({
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
  selfTest: v.optional(
    v.picklist(SELF_TEST_MODES, `option --self-test: expected ${SELF_TEST_MODES.join(", ")}`),
    "warn",
  ),
});

export type Config = v.InferOutput<typeof ConfigSchema>;

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
    hostToken: raw.token,
    verbose: raw.verbose,
    versions: raw.versions,
    checksums: raw.checksums,
    daemon: raw.daemon,
    debugProcess: raw.debug,
    pluginPath: raw.plugins,
    selfTest: raw.selfTest,
  });
  if (!result.success) throw new UsageError(result.issues[0].message);
  if (result.output.quiet && result.output.collectors.length === 0) {
    throw new UsageError("option -q needs -u: without collectors nothing would be printed anywhere");
  }
  if (result.output.daemon && result.output.collectors.length === 0) {
    throw new UsageError("option -d needs -u: a daemon prints no records, so they must go to collectors");
  }
  return result.output;
}
