import { describe, expect, test } from "bun:test";
import { helpText, OPTIONS, parseArgs, UsageError } from "../../src/cli.ts";
import { buildConfig, outputFormat } from "../../src/config.ts";
import { BUN, ROOT } from "../helpers/paths.ts";

function config(argv: string[]) {
  return buildConfig(parseArgs(argv));
}

describe("options", () => {
  test("defaults", () => {
    expect(config([])).toEqual({
      collectors: [],
      quiet: false,
      monitor: { file: true, socket: true },
      apps: {
        ports: [
          { app: 1, proto: "udp", port: 53 },
          { app: 1, proto: "tcp", port: 53 },
          { app: 2, proto: "tcp", port: 80 },
          { app: 3, proto: "udp", port: 514 },
          { app: 3, proto: "tcp", port: 514 },
        ],
        unixSyslog: true,
      },
      appBytes: 1400,
      appMessages: 4,
      eventsMax: 0,
      timeouts: { idleSec: 15, activeSec: 1800 },
      output: "json",
      rs: false,
      verbose: false,
      versions: false,
      checksums: false,
      daemon: false,
      selfTest: "warn",
    });
  });

  test("--self-test: warn, fatal or off; anything else names the option", () => {
    expect(config(["--self-test", "fatal"]).selfTest).toBe("fatal");
    expect(config(["--self-test", "off"]).selfTest).toBe("off");
    expect(() => config(["--self-test", "loud"])).toThrow("option --self-test: expected warn, fatal, off");
  });

  test("-p: one application per option, off, case-insensitive names", () => {
    const c = config(["-p", "HTTP=tcp/8080,tcp/80", "-p", "dns=off", "-p", "syslog=udp/514"]);
    expect(c.apps).toEqual({
      ports: [
        { app: 2, proto: "tcp", port: 8080 },
        { app: 2, proto: "tcp", port: 80 },
        { app: 3, proto: "udp", port: 514 },
      ],
      unixSyslog: false,
    });
  });

  test("-u and -q: IPv4, IPv6 by last colon or in brackets, any number", () => {
    expect(config(["-u", "1.2.3.4:2056,::1:2057,[fe80::1]:9", "-q"])).toMatchObject({
      quiet: true,
      collectors: [
        { host: "1.2.3.4", port: 2056, family: 4 },
        { host: "::1", port: 2057, family: 6 },
        { host: "fe80::1", port: 9, family: 6 },
      ],
    });
  });

  test("--syslog: tcp:// or tls:// with a name, IPv4 or bracketed IPv6; files made absolute; the spool in MiB", () => {
    expect(config(["--syslog", "tcp://[::1]:514"]).syslog).toEqual({
      scheme: "tcp",
      host: "::1",
      port: 514,
      url: "tcp://[::1]:514",
      spoolBytes: 32 << 20,
    });
    const tls = config([
      "--syslog",
      "tls://relay.example.org:6514",
      "--syslog-ca",
      "ca.pem",
      "--syslog-cert",
      "/etc/kflowd/c.pem",
      "--syslog-key",
      "/etc/kflowd/c.key",
      "--syslog-spool",
      "8",
    ]).syslog;
    expect(tls).toEqual({
      scheme: "tls",
      host: "relay.example.org",
      port: 6514,
      url: "tls://relay.example.org:6514",
      ca: `${process.cwd()}/ca.pem`,
      cert: "/etc/kflowd/c.pem",
      key: "/etc/kflowd/c.key",
      spoolBytes: 8 << 20,
    });
    expect(config(["--syslog", "tcp://10.0.0.5:514"]).syslog?.host).toBe("10.0.0.5");
  });

  test("--output-file with its size and count; --metrics; -q and -d take any output besides stdout", () => {
    expect(config(["--output-file", "/var/log/kflowd/records.json"]).outputFile).toEqual({
      path: "/var/log/kflowd/records.json",
      maxBytes: 100 << 20,
      keep: 5,
    });
    expect(config(["--output-file", "r.json", "--output-file-size", "1", "--output-file-keep", "9"]).outputFile).toEqual({
      path: `${process.cwd()}/r.json`,
      maxBytes: 1 << 20,
      keep: 9,
    });
    expect(config(["--metrics", "[::1]:9464"]).metrics).toEqual({ host: "::1", port: 9464, family: 6 });
    expect(config(["-q", "--output-file", "/x"]).quiet).toBe(true);
    expect(config(["-d", "--syslog", "tcp://relay:514"]).daemon).toBe(true);
  });

  test("-m: words or their prefixes", () => {
    expect(config(["-m", "f"]).monitor).toEqual({ file: true, socket: false });
    expect(config(["-m", "sock"]).monitor).toEqual({ file: false, socket: true });
    expect(config(["-m", "file,socket"]).monitor).toEqual({ file: true, socket: true });
  });

  test("-e and -t", () => {
    expect(config(["-e", "1"]).eventsMax).toBe(1);
    expect(config(["-t", "20"]).timeouts).toEqual({ idleSec: 20, activeSec: 1800 });
    expect(config(["-t", ",600"]).timeouts).toEqual({ idleSec: 15, activeSec: 600 });
    expect(config(["--timeouts", "5,60"]).timeouts).toEqual({ idleSec: 5, activeSec: 60 });
  });

  test("output formats and kflowd's prefixes", () => {
    expect(config(["-o", "json-min"]).output).toBe("json-min");
    expect(config(["--output", "json-m"]).output).toBe("json-min");
    expect(config(["-o", "j"]).output).toBe("json");
    expect(config(["-o", "t"]).output).toBe("table");
    expect(config(["-otable"]).output).toBe("table");
    expect(outputFormat("json-")).toBeUndefined();
    expect(outputFormat("")).toBeUndefined();
  });

  test("attached values and combined flags, as getopt takes them", () => {
    expect(config(["-ojson-min"]).output).toBe("json-min");
    expect(config(["-Vojson-min", "-e2"])).toMatchObject({ output: "json-min", verbose: true, eventsMax: 2 });
    expect(config(["-t,600"]).timeouts).toEqual({ idleSec: 15, activeSec: 600 });
    expect(config(["-pdns=off"]).apps.ports.every((p) => p.app !== 1)).toBe(true);
  });

  test("combined short flags", () => {
    expect(config(["-Vo", "json-min"])).toMatchObject({ output: "json-min", verbose: true });
  });

  test("-v, -c, -d, -D and -P", () => {
    expect(config(["-vc"])).toMatchObject({ versions: true, checksums: true });
    expect(config(["-d", "-u", "127.0.0.1:2056"]).daemon).toBe(true);
    expect(config(["-D", "*"]).debugProcess).toBe("*");
    expect(config(["-Dcurl"]).debugProcess).toBe("curl");
    expect(config(["-P", "../lib"]).pluginPath).toBe("../lib");
    expect(() => config(["-P", "x".repeat(5000)])).toThrow("option -P takes a path of at most 4095 characters");
  });

  test("token", () => {
    expect(config(["-T", "site-7"]).hostToken).toBe("site-7");
  });

  test.each([
    [["-o", "xml"], "invalid output format 'xml' (expected json, json-min or table)"],
    [["-d"], "option -d needs -u"],
    [["-D", "/usr/bin/curl"], "option -D: '/usr/bin/curl' is not '*' or an executable's name"],
    [["-D", ""], "option -D needs a process name or '*'"],
    [["-v", "-v"], "option -v given more than once"],
    [["-o"], "value is missing"],
    [["-x"], "unknown option '-x'"],
    [["--bogus"], "unknown option '--bogus'"],
    [["stray"], "unexpected argument 'stray'"],
    [["-o", "json", "-o", "json-min"], "option -o given more than once"],
    [["-T", "x".repeat(256)], "at most 255 characters"],
    [["-e", "0"], "option -e: '0' is not a count of events"],
    [["-m", "net"], "option -m: 'net' is neither file nor socket"],
    [["-u", "localhost:2056"], "option -u: 'localhost:2056' is not IP:PORT"],
    [["-u", "1.2.3.4:0"], "option -u: '1.2.3.4:0' is not IP:PORT"],
    [["-u", "1.2.3.4"], "is not IP:PORT"],
    [["-q"], "option -q needs -u"],
    [["-m", "file,"], "option -m: '' is neither file nor socket"],
    [["-p", "ftp=tcp/21"], "option -p: 'ftp=tcp/21' is not NAME=PROTO/PORT"],
    [["-p", "http=udp/80"], "option -p: http: 'udp/80' is not tcp/PORT with a port from 1 to 65535"],
    [["-p", "dns=udp/0"], "a port from 1 to 65535"],
    [["-p", "dns=udp/70000"], "a port from 1 to 65535"],
    [["-p", "dns=udp/53,udp/53"], "option -p: dns: 'udp/53' is given twice"],
    [["-p", "dns=off", "-p", "dns=udp/53"], "option -p: dns is given more than once"],
    [["--app-bytes", "5000"], "option --app-bytes: '5000' is not a count of bytes from 1 to 4095"],
    [["-e", "many"], "option -e: 'many' is not a count of events"],
    // as getopt takes it, the word after an option that needs a value is that value
    [["-e", "-1"], "option -e: '-1' is not a count of events"],
    [["-e-1"], "option -e: '-1' is not a count of events"],
    [["--events", "-1"], "option -e: '-1' is not a count of events"],
    [["-t", "-5"], "option -t: '-5' is not a number of seconds"],
    [["--app-bytes", "-3"], "option --app-bytes: '-3' is not a count of bytes"],
    [["-o", "-V"], "invalid output format '-V'"],
    [["-o", "table", "--rs"], "option --rs is for JSON output"],
    [["-t", "0"], "option -t: '0' is not a number of seconds"],
    [["-t", ","], "option -t: expects IDLE[,ACTIVE] in seconds"],
    [["-t", "1,2,3"], "option -t: expects IDLE[,ACTIVE] in seconds"],
    [["--syslog", "udp://relay:514"], "option --syslog: 'udp://relay:514' is not tcp://HOST:PORT or tls://HOST:PORT"],
    [["--syslog", "tcp://relay"], "option --syslog: 'tcp://relay' is not tcp://HOST:PORT"],
    [["--syslog", "tcp://::1:514"], "option --syslog: 'tcp://::1:514' is not tcp://HOST:PORT"],
    [["--syslog", "tcp://re_lay:514"], "is not tcp://HOST:PORT"],
    [["--syslog", "tcp://relay:0"], "is not tcp://HOST:PORT"],
    [["--syslog", "tls://relay:6514"], "option --syslog tls://...: needs --syslog-ca"],
    [["--syslog", "tcp://relay:514", "--syslog-ca", "ca.pem"], "option --syslog-ca needs --syslog tls://HOST:PORT"],
    [["--syslog-cert", "c.pem"], "option --syslog-cert needs --syslog tls://HOST:PORT"],
    [["--syslog", "tls://relay:6514", "--syslog-ca", "ca.pem", "--syslog-key", "k"], "options --syslog-cert and --syslog-key go together"],
    [["--syslog-spool", "8"], "option --syslog-spool needs --syslog"],
    [["--syslog", "tcp://relay:514", "--syslog-spool", "0"], "option --syslog-spool: '0' is not a number of MiB from 1 to 4096"],
    [["--output-file", ""], "option --output-file needs a path"],
    [["--output-file-size", "5"], "option --output-file-size needs --output-file"],
    [["--output-file-keep", "5"], "option --output-file-keep needs --output-file"],
    [["--output-file", "/x", "--output-file-keep", "0"], "option --output-file-keep: '0' is not a count of files from 1 to 1000"],
    [["--metrics", "localhost:9464"], "option --metrics: 'localhost:9464' is not IP:PORT"],
    [["--metrics", "127.0.0.1:1,127.0.0.1:2"], "option --metrics: '127.0.0.1:1,127.0.0.1:2' is one IP:PORT, not a list"],
  ])("%p is refused: %s", (argv, message) => {
    expect(() => config(argv)).toThrow(UsageError);
    expect(() => config(argv)).toThrow(message);
  });

  test("help lists every option it parses", () => {
    const help = helpText("v0");
    for (const o of OPTIONS) expect(help).toContain(o.flags);
  });
});

describe("the agent's command line (no root needed)", () => {
  async function run(...args: string[]) {
    const p = Bun.spawn([BUN, `${ROOT}src/main.ts`, ...args], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { out, err, code };
  }

  test("bad input: one error line, a hint, exit 1", async () => {
    const r = await run("-o", "xml");
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toBe("kflowd: invalid output format 'xml' (expected json, json-min or table)\nTry 'kflowd --help' for the options.\n");
  });

  test("--help on stdout, exit 0", async () => {
    const r = await run("--help");
    expect(r.code).toBe(0);
    expect(r.out).toBe(helpText((await import("../../src/version.ts")).VERSION));
  });

  test("-l prints the legend, exit 0", async () => {
    const r = await run("-l");
    expect(r.code).toBe(0);
    expect(r.out).toBe((await import("../../src/legend.ts")).legendText());
  });

  test("--version names the libbpf in use", async () => {
    const r = await run("--version");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kflowd v\d+\.\d+\.\d+ \(bun [\d.]+, linux \w+, libbpf \d+\.\d+(\.\d+)?\)\n$/);
  });
});
