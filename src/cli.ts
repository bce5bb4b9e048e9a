/** Command-line parsing only (cac); validation and defaults live in config.ts. */
import { cac } from "cac";

/** An option as the user typed it, before validation. */
export interface RawOptions {
  readonly legend?: unknown;
  readonly collectors?: unknown;
  readonly quiet?: unknown;
  readonly monitor?: unknown;
  readonly apps?: unknown;
  readonly appBytes?: unknown;
  readonly appMessages?: unknown;
  readonly events?: unknown;
  readonly timeouts?: unknown;
  readonly output?: unknown;
  readonly rs?: unknown;
  readonly token?: unknown;
  readonly verbose?: unknown;
  readonly versions?: unknown;
  readonly checksums?: unknown;
  readonly daemon?: unknown;
  readonly debug?: unknown;
  readonly plugins?: unknown;
  readonly selfTest?: unknown;
  readonly syslog?: unknown;
  readonly syslogCa?: unknown;
  readonly syslogCert?: unknown;
  readonly syslogKey?: unknown;
  readonly syslogSpool?: unknown;
  readonly outputFile?: unknown;
  readonly outputFileSize?: unknown;
  readonly outputFileKeep?: unknown;
  readonly metrics?: unknown;
  readonly help?: unknown;
  readonly version?: unknown;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

interface OptionSpec {
  readonly flags: string;
  readonly text: string;
}

/** The options the agent implements; help text is generated from this list. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    flags: "-m, --monitor <file,socket>",
    text: "what to monitor: file, socket or both, as a comma list of these words or their prefixes (default: file,socket)",
  },
  {
    flags: "-e, --events <count>",
    text: "print a file record once it holds this many events instead of waiting for the file to be released (1 = every event on its own; default: off)",
  },
  {
    flags: "-t, --timeouts <idle,active>",
    text: "print a file or socket record that is still open after IDLE seconds without activity or ACTIVE seconds after it began, then count on from zero; ',600' sets only ACTIVE (default: 15,1800)",
  },
  {
    flags: "-p, --apps <name=proto/port,...>",
    text: "where DNS, HTTP and SYSLOG messages are captured: dns=udp/53,tcp/53 (default), http=tcp/80 (default), syslog=udp/514,tcp/514,unix (default; unix: datagrams to /dev/log and journald's dev-log); NAME=off turns one off; repeat -p for each application",
  },
  { flags: "--app-bytes <count>", text: "bytes captured of each application message, 1 to 4095 (default: 1400)" },
  {
    flags: "--app-messages <count>",
    text: "application messages a socket record holds; when they are reached the record is printed (default: 4)",
  },
  {
    flags: "-o, --output <format>",
    text: "output format: 'json' (indented, each record followed by a line holding an ASCII RS), 'json-min' (one record per line) or 'table' (one line per record in columns fitted to the terminal; collectors of -u still get one-line JSON); prefixes such as 'j' or 't' work (default: json)",
  },
  {
    flags: "--rs",
    text: "with json-min: follow each record with a line holding an ASCII RS (0x1e), kflowd's stream, for consumers that split records on it ('json' always has it; without --rs json-min is one record per line, NDJSON)",
  },
  {
    flags: "-v, --versions",
    text: "add ProcVersion and, for executable files, FileVersion: the version of the package that installed them, from the dpkg or rpm database, re-read when it changes",
  },
  {
    flags: "-c, --checksums",
    text: "add FileMD5 and FileSHA256 to records of executable files (any x bit), hashed once per file version from the opened file; regular files up to 64 MiB only, never FIFOs or devices",
  },
  {
    flags: "-u, --collectors <ip:port,...>",
    text: "also send every record, one UDP datagram each, to these collectors (IPv4 1.2.3.4:2056, IPv6 ::1:2056 or [::1]:2056; any number)",
  },
  {
    flags: "--syslog <url>",
    text: "also send every record, as the message of an RFC 5424 syslog line (app kflowd, one-line JSON) framed by octet counting (RFC 5425), over one persistent connection to a relay: tcp://HOST:PORT, or tls://HOST:PORT with --syslog-ca; reconnects with backoff, spools records in memory while the relay is away and sends the last ones again after a lost connection",
  },
  {
    flags: "--syslog-ca <file>",
    text: "tls://: the CA certificates (PEM) the relay's certificate must chain to; its name must match HOST",
  },
  { flags: "--syslog-cert <file>", text: "tls://: the agent's client certificate (PEM), with --syslog-key" },
  { flags: "--syslog-key <file>", text: "tls://: the private key (PEM) of --syslog-cert" },
  {
    flags: "--syslog-spool <MiB>",
    text: "memory for records the relay has not taken yet, and for the last ones sent (at least 4 MiB, or half the spool) to send again after a lost connection; records beyond it are dropped and counted (default: 32)",
  },
  {
    flags: "--output-file <path>",
    text: "also append every record, one JSON object per line, to this file; written once per batch, rotated by size (PATH.1 is the newest old file); an incomplete last line left by a crash is removed at start",
  },
  { flags: "--output-file-size <MiB>", text: "size at which --output-file is rotated (default: 100)" },
  { flags: "--output-file-keep <count>", text: "rotated files of --output-file kept, 1 to 1000 (default: 5)" },
  {
    flags: "--metrics <ip:port>",
    text: "serve Prometheus metrics at http://IP:PORT/metrics (IPv6 in brackets): records by type, losses by reason, ring buffer fill, drain time, degraded features, the state of each output (default: off)",
  },
  { flags: "-q, --quiet", text: "print no records on stdout (needs -u, --syslog or --output-file)" },
  {
    flags: "-d, --daemon",
    text: "run in the background, detached from the terminal, sending records only to the outputs other than stdout (needs -u, --syslog or --output-file); returns once the agent is attached, with its PID, or with the reason it failed. Under systemd use the kflowd service instead",
  },
  { flags: "-T, --token <token>", text: "add InfoHostToken with this text to every record" },
  {
    flags: "-V, --verbose",
    text: "print libbpf's debug messages, including the verifier log, to stderr, and every 10 seconds a statistics line: records per second and records lost, by reason",
  },
  {
    flags: "-D, --debug <process>",
    text: "print to stderr, for processes whose executable or command is named PROCESS ('*' for all), each kernel record as received, with the flags and counters the JSON leaves out; 'q': instead, each decision of the idle and active timeouts (kflowd's expiry queue)",
  },
  {
    flags: "--self-test <mode>",
    text: "once attached, a child of the agent creates, writes, reads, renames, links and deletes files in a private directory and sends over TCP, UDP and UNIX sockets; the banner says which of these the kernel side saw, and a feature that failed is reported degraded. 'warn' (default): the agent runs on; 'fatal': it exits 1 instead (for fleet health checks); 'off': no self-test",
  },
  {
    flags: "-P, --plugins <path>",
    text: "accepted for compatibility with kflowd 0.9, whose plugins are built in here (user and group names, versions, checksums, DNS, HTTP and SYSLOG decoding); the path is not used",
  },
  { flags: "-l, --legend", text: "list every key of the records with its meaning and exit" },
  { flags: "-h, --help", text: "show this help and exit" },
  { flags: "--version", text: "show version information and exit" },
];

/** Words of text in lines of at most width characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

export function helpText(version: string): string {
  const width = Math.max(...OPTIONS.map((o) => o.flags.length)) + 2;
  const textWidth = Math.max(40, 96 - 2 - width);
  const lines = [
    `kflowd ${version}: eBPF monitor of every process's file and network activity`,
    "",
    "Watches, from the kernel, what all processes do to files (open, read, write, close,",
    "rename, delete, link, attribute changes, exec) and through TCP, UDP and UNIX sockets,",
    "aggregates it per process and file and per socket, and prints one JSON record per",
    "aggregation to stdout. Runs as root on Linux 5.10 or newer with BTF. Stop it with",
    "Ctrl-C or SIGTERM: records still open are printed before it exits. SIGHUP re-reads",
    "the user, group, mount, interface and (with -v) package names. Short options combine",
    "as with getopt: -Vojson-min is -V -o json-min.",
    "",
    "Usage: kflowd [options]",
    "",
    "Options:",
    ...OPTIONS.flatMap((o) => wrap(o.text, textWidth).map((l, i) => `  ${(i === 0 ? o.flags : "").padEnd(width)}${l}`)),
    "",
    "Examples:",
    "  sudo kflowd                 pretty JSON records to the terminal",
    "  sudo kflowd -o json-min     one record per line, for pipelines",
    "  sudo kflowd -m socket -q -u 127.0.0.1:2056,[::1]:2056",
    "                              socket records to two UDP collectors only",
    "  sudo kflowd -v -c -d -u 10.0.0.5:2056",
    "                              in the background, with package versions and checksums",
    "  sudo kflowd -o table        a column view for a person watching",
    "  sudo kflowd -q --syslog tls://relay.example:6514 --syslog-ca /etc/kflowd/ca.pem --metrics 127.0.0.1:9464",
    "                              records to a syslog relay over TLS, metrics for Prometheus",
    "  sudo kflowd -q --output-file /var/log/kflowd/records.json",
    "                              records to a local file for a log shipper, rotated at 100 MB",
  ];
  return `${lines.join("\n")}\n`;
}

/** Options that take a value: short letter -> long name, and the long names ("-o, --output <format>"). */
const VALUE_SHORTS = new Map(
  OPTIONS.filter((o) => o.flags.includes("<")).flatMap((o) => {
    const m = /^-(\w), --([\w-]+)/.exec(o.flags);
    return m ? [[m[1]!, m[2]!] as const] : [];
  }),
);
const VALUE_LONGS = new Set(OPTIONS.filter((o) => o.flags.includes("<")).flatMap((o) => /--([\w-]+) </.exec(o.flags)?.[1] ?? []));

/**
 * kflowd's getopt forms: "-ojson" (a value attached) and "-Vo json" (flags combined,
 * the last one taking the next word). Each short option becomes its own word. As with
 * getopt, the word after an option that takes a value is that value even when it starts
 * with '-' ("-e -1"): it is attached ("-e=-1"), so that it is refused as that option's
 * value instead of being taken for an unknown option.
 */
export function splitShortOptions(argv: readonly string[]): string[] {
  const out: string[] = [];
  /** option (as written, "-e" or "--events") with value, the next word or an attached rest */
  const valued = (option: string, value: string | undefined): void => {
    if (value === undefined) out.push(option);
    else if (value.startsWith("-")) out.push(`${option}=${value}`);
    else out.push(option, value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const long = /^--([\w-]+)$/.exec(arg)?.[1];
    if (long !== undefined && VALUE_LONGS.has(long)) {
      valued(arg, argv[i + 1]);
      if (i + 1 < argv.length) i++;
      continue;
    }
    if (!/^-[^-]/.test(arg)) {
      out.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!;
      if (!VALUE_SHORTS.has(c)) {
        out.push(`-${c}`);
        continue;
      }
      if (j + 1 < arg.length) {
        valued(`-${c}`, arg.slice(j + 1));
      } else {
        valued(`-${c}`, argv[i + 1]);
        if (i + 1 < argv.length) i++;
      }
      break;
    }
  }
  return out;
}

/** Parses argv (without node and script); throws UsageError on anything malformed. */
export function parseArgs(argv: readonly string[]): RawOptions {
  const cli = cac("kflowd");
  for (const o of OPTIONS) cli.option(o.flags, o.text);
  cli.command("").action(() => {});
  try {
    const parsed = cli.parse(["kflowd", "kflowd", ...splitShortOptions(argv)], { run: false });
    if (parsed.args.length > 0) throw new UsageError(`unexpected argument '${parsed.args[0]}'`);
    cli.runMatchedCommand();
    for (const [name, value] of Object.entries(parsed.options)) {
      // -p may repeat, one application each
      if (name !== "--" && name !== "p" && name !== "apps" && Array.isArray(value)) {
        throw new UsageError(`option ${name.length > 1 ? "--" : "-"}${name} given more than once`);
      }
    }
    return parsed.options as RawOptions;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new UsageError(msg.replace(/`/g, "'").replace(/^Unknown option/, "unknown option"));
  }
}
