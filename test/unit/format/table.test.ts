import { describe, expect, test } from "bun:test";
import type { HostInfo, NameLookup } from "../../../src/format/common.ts";
import { FS_EVENT_NAMES, type FormatContext } from "../../../src/format/file-json.ts";
import {
  appSummary,
  clock,
  compact,
  duration,
  EVENT_CODES,
  escapeText,
  MIN_FREE,
  TableFormat,
  textWidth,
} from "../../../src/format/table.ts";
import type { AppMessage } from "../../../src/records/app.ts";
import type { FileRecord } from "../../../src/records/file.ts";
import { AppKind, FsEvent, SockRole } from "../../../src/records/layout.gen.ts";
import { AF_UNIX } from "../../../src/records/net.ts";
import type { SockRecord } from "../../../src/records/sock.ts";
import { counts, dir, sampleFile as file, sampleSock as sock, task, v4 } from "./fixtures.ts";

const host: HostInfo = {
  hostName: "web-01",
  hostIp: "10.1.2.3",
  hostToken: undefined,
  system: "Linux",
  kernel: "6.18.0",
  version: "kflowd-v0.1.0",
};
const names: NameLookup = { user: () => "", group: () => "" };

const CONTAINER = "4f1c9e2ab7d3086e5f2a1b9c7d6e3f40a8b2c5d9e1f7a3b6c0d4e8f2a5b9c3d7";
// a name meant to break the table: newline, carriage return, tab, ESC sequences (clear screen,
// set title), a C1 CSI, a bidi override, a zero-width space, a lone surrogate, quotes, a backslash
const HOSTILE = "evil\nname\r\t\x1b[2J\x1b]0;pwned\x07\x9b31m\u202Etxt.exe\u200b\ud800\"q'\\.txt";

// 2025-11-26 15:59:04.123456789 UTC
const ctx: FormatContext = {
  host,
  names,
  interfaces: { interface: () => "" },
  devices: { device: () => "" },
  // cgroup 0x1234 is a container's, 7 is not
  cgroups: {
    cgroup: (id) =>
      id === 0x1234
        ? { path: `/system.slice/docker-${CONTAINER}.scope`, containerId: CONTAINER }
        : id === 7
          ? { path: "/user.slice", containerId: undefined }
          : undefined,
  },
  // 93.184.215.14 was resolved from example.com, fe80::211:22ff:fe33:4455 from a hostile name
  remoteNames: {
    remoteName: (_, addr) => (addr[0] === 93 ? "example.com" : addr[0] === 0xfe ? HOSTILE : undefined),
  },
  seq: 17,
  nowNs: 1764172744123456789n,
  uptimeNs: 3_500_000_000n,
};

function v6(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

function msg(app: number, rx: boolean): AppMessage {
  return { sockKey: 77n, pid: 901, tsNs: 10_001_000_000n, len: 40, rx, app, data: new Uint8Array() };
}
const http = [msg(AppKind.APP_HTTP, false), msg(AppKind.APP_HTTP, true)];

const dnsClient: SockRecord = {
  ...sock,
  key: 78n,
  task: { ...task, pid: 733, tid: 733, ppid: 1, comm: "systemd-resolve", exe: "systemd-resolved" },
  proto: 17,
  type: 2,
  state: 1,
  lport: 40022,
  rport: 53,
  raddr: v4(10, 0, 0, 53),
  tx: dir(2, 88),
  rx: dir(2, 240),
};
const dns = [msg(AppKind.APP_DNS, false), msg(AppKind.APP_DNS, true)];

const server6: SockRecord = {
  ...sock,
  key: 79n,
  task: { ...task, pid: 1200, tid: 1201, ppid: 1, comm: "nginx", exe: "nginx" },
  family: 10,
  role: SockRole.SOCK_ROLE_SERVER,
  lport: 443,
  rport: 51000,
  laddr: v6("20010db8000000000000000000000001"),
  raddr: v6("20010db8000000000000000000000002"),
  tx: dir(40, 48_000_000),
  rx: dir(30, 2_100),
};

const syslog: SockRecord = {
  ...sock,
  key: 0x8000_0000_0000_0042n,
  task: { ...task, pid: 812, tid: 812, ppid: 1, comm: "logger", exe: "logger" },
  family: AF_UNIX,
  proto: 0,
  type: 2,
  state: 0,
  lport: 0,
  rport: 0,
  laddr: new Uint8Array(16),
  raddr: new Uint8Array(16),
  tx: dir(3, 312),
  rx: dir(0, 0),
  unixPath: "/dev/log",
};
const logs = [msg(AppKind.APP_SYSLOG, false), msg(AppKind.APP_SYSLOG, false), msg(AppKind.APP_SYSLOG, false)];

const hostile: FileRecord = { ...file, path: `/tmp/${HOSTILE}`, origin: `old${HOSTILE}` };
const longPath: FileRecord = {
  ...file,
  path: `${`/${"d".repeat(99)}/`.repeat(30).slice(0, 2990)}/final.log`,
};
const wide: FileRecord = { ...file, path: "/home/\u7530\u4e2d/\u5831\u544a\u66f8-\u{1F600}-e\u0301.txt" };
const huge: FileRecord = {
  ...file,
  task: { ...task, pid: 4_194_303, ppid: 4_194_302, comm: "kworker/u16:3-ev", exe: "" },
  ino: 0xffff_ffff_ffff_fffen,
  events: 123_456_789,
  eventCounts: counts(Object.fromEntries(FS_EVENT_NAMES.map((_, i) => [i, 1]))),
  size: 9_007_199_254_740_991,
  tsFirstNs: 0n,
  tsNs: 9_000_000_000_000_000_000n,
};
const bigSock: SockRecord = {
  ...server6,
  task: { ...server6.task, cgroupId: 0x1234 },
  laddr: v6("2001db885a3000000008a2e03707334".padEnd(32, "1")),
  raddr: v6("fe80000000000000021122fffe334455"),
  tx: dir(123_456_789_012, 987_654_321_098_765),
  rx: dir(99_999, 9_999_999_999),
};
const ctxBig: FormatContext = { ...ctx, seq: 123_456_789_012 };

const inContainer: FileRecord = { ...file, task: { ...task, cgroupId: 0x1234 } };
const FILES = [
  file,
  hostile,
  longPath,
  wide,
  huge,
  { ...file, inodeKnown: false, mode: 0 },
  inContainer,
  { ...longPath, task: inContainer.task },
];
const SOCKS: [SockRecord, AppMessage[]][] = [
  [sock, http],
  [dnsClient, dns],
  [server6, []],
  [syslog, logs],
  [bigSock, [...http, ...dns, ...logs]],
  [{ ...syslog, unixPath: `@${HOSTILE}` }, []],
];

/** Every row must be one line of at most width terminal columns, free of control characters. */
function checkRow(row: string, width: number): void {
  expect(row).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
  expect(Bun.stringWidth(row)).toBeLessThanOrEqual(width);
  expect(textWidth(row)).toBeLessThanOrEqual(width);
  expect(row).toBe(row.trimEnd());
}

/** The character shown at terminal column col of row ("" past its end). */
function charAtColumn(row: string, col: number): string {
  let at = 0;
  for (const ch of row) {
    if (at === col) return ch;
    at += Bun.stringWidth(ch);
    if (at > col) return "";
  }
  return "";
}

/** Fixed column widths, in order: TIME EVENTS COUNT DURATION PROCESS PPID PID INODE/TX SIZE/RX LAST ACCESS #. */
const WIDTHS = [12, 14, 5, 8, 15, 7, 7, 10, 10, 14, 8];
const TITLES = ["TIME", "EVENTS", "COUNT", "DURATION", "PROCESS", "PPID", "PID", "INODE/TX", "SIZE/RX", "LAST_ACCESS", "#"];
/** the header's titles, one word each */
const headerTitles = (h: string) => h.replace("TIME(UTC)", "TIME").replace("LAST ACCESS", "LAST_ACCESS").split(/ +/);

describe("golden rows", () => {
  test("width 120: header, a file row, a socket row", () => {
    const t = new TableFormat(120);
    expect([t.header(), t.file(file, ctx), t.sock(dnsClient, ctx, dns)].join("\n")).toBe(
      [
        "TIME(UTC)    EVENTS         COUNT PROCESS             PID   INODE/TX LAST ACCESS    PATH/ENDPOINTS",
        "15:59:04.123 F,CR,OP,MO,CW     10 python3.11         4242    1234567 04-04 15:34:35 /srv/data/report.txt",
        "15:59:04.123 UDP ESTAB          4 systemd-resolv…     733       88/2 -              10.1.2.3:40022 -> 10.0.0.53:53  DNS…",
      ].join("\n"),
    );
  });

  test("width 200: every column; after kflowd's, the remote's name and the container", () => {
    const t = new TableFormat(200);
    const curl = { ...sock, task: { ...sock.task, cgroupId: 0x1234 } };
    const rows = [
      t.header(),
      t.file(file, ctx),
      t.file(inContainer, ctx),
      t.sock(sock, ctx, http),
      t.sock(curl, ctx, []),
      t.sock(server6, ctx, []),
    ];
    expect(rows.join("\n")).toBe(
      [
        "TIME(UTC)    EVENTS         COUNT DURATION PROCESS            PPID     PID   INODE/TX    SIZE/RX LAST ACCESS           # PATH/ENDPOINTS",
        "15:59:04.123 F,CR,OP,MO,CW     10    0.250 python3.11            1    4242    1234567       6000 04-04 15:34:35       17 /srv/data/report.txt",
        "15:59:04.123 F,CR,OP,MO,CW     10    0.250 python3.11            1    4242    1234567       6000 04-04 15:34:35       17 /srv/data/report.txt  [4f1c9e2ab7d3]",
        "15:59:04.123 TCP CLOSE         11    0.042 curl                900     901      517/6  1532000/5 -                    17 10.1.2.3:40022 -> 93.184.215.14:80  HTTP 2  (example.com)",
        "15:59:04.123 TCP CLOSE         11    0.042 curl                900     901      517/6  1532000/5 -                    17 10.1.2.3:40022 -> 93.184.215.14:80  (example.com)  [4f1c9e2ab7d3]",
        "15:59:04.123 TCP CLOSE         70    0.042 nginx                 1    1200     48M/40    2100/30 -                    17 [2001:db8::1]:443 <- [2001:db8::2]:51000",
      ].join("\n"),
    );
  });

  test("a narrow free column keeps kflowd's text first; the new parts get what is left", () => {
    const t = new TableFormat(121);
    const curl = { ...sock, task: { ...sock.task, cgroupId: 0x1234 } };
    const row = t.sock(curl, ctx, http);
    expect(row).toEndWith(" 10.1.2.3:40022 -> 93.184.215.14:80  …");
    expect(textWidth(row)).toBe(121);
    const wider = new TableFormat(190).sock(curl, ctx, http);
    expect(wider).toEndWith(" 10.1.2.3:40022 -> 93.184.215.14:80  HTTP 2  (example.com)  [4f1c9e2a…");
    expect(textWidth(wider)).toBe(190);
  });
});

describe("width bounds", () => {
  const widths = [1, 5, 10, 20, 30, 40, 60, 79, 80, 100, 119, 120, 132, 150, 200, 300];

  test.each(widths)("every row fits %p columns, with no control characters", (width) => {
    const t = new TableFormat(width);
    checkRow(t.header(), width);
    for (const f of FILES) checkRow(t.file(f, ctxBig), width);
    for (const f of FILES) checkRow(t.file(f, ctx), width);
    for (const [s, m] of SOCKS) checkRow(t.sock(s, ctxBig, m), width);
  });

  test("rows are as wide as the line only when the last column is full", () => {
    const t = new TableFormat(120);
    expect(textWidth(t.file(longPath, ctx))).toBe(120);
    expect(textWidth(t.file(file, ctx))).toBeLessThan(120);
  });

  test.each([80, 120, 130, 200])("columns line up with the header at %p columns", (width) => {
    const t = new TableFormat(width);
    const header = t.header();
    const titles = headerTitles(header);
    // the columns the header shows, and the terminal column of the space after each fixed one
    const seps: number[] = [];
    let at = 0;
    for (const title of titles.slice(0, -1)) {
      at += WIDTHS[TITLES.indexOf(title)]!;
      seps.push(at);
      at += 1;
    }
    expect(titles.at(-1)).toBe("PATH/ENDPOINTS");
    expect(charAtColumn(header, at)).toBe("P");
    const rows = [...FILES.map((f) => t.file(f, ctxBig)), ...SOCKS.map(([s, m]) => t.sock(s, ctxBig, m))];
    for (const row of [header, ...rows]) {
      checkRow(row, width);
      for (const sep of seps) expect(charAtColumn(row, sep)).toBe(" ");
      // every cell holds something, so the free column starts right after the last separator
      expect(charAtColumn(row, at)).not.toBe(" ");
    }
  });

  test("narrow lines leave out whole columns, least useful first", () => {
    const titles = (w: number) => headerTitles(new TableFormat(w).header());
    const all = ["TIME", "EVENTS", "COUNT", "DURATION", "PROCESS", "PPID", "PID", "INODE/TX", "SIZE/RX", "LAST_ACCESS"];
    expect(titles(200)).toEqual([...all, "#", "PATH/ENDPOINTS"]);
    expect(titles(140)).toEqual([...all.filter((t) => t !== "PPID"), "PATH/ENDPOINTS"]);
    // kflowd's event count and last access stay longest
    expect(titles(130)).toEqual(["TIME", "EVENTS", "COUNT", "PROCESS", "PID", "INODE/TX", "LAST_ACCESS", "PATH/ENDPOINTS"]);
    expect(titles(120)).toEqual(["TIME", "EVENTS", "COUNT", "PROCESS", "PID", "INODE/TX", "LAST_ACCESS", "PATH/ENDPOINTS"]);
    expect(titles(80)).toEqual(["TIME", "EVENTS", "PROCESS", "PID", "PATH/ENDPOINTS"]);
    for (const w of [100, 120, 130, 140, 200]) {
      const h = new TableFormat(w).header();
      expect(w - h.lastIndexOf(" ") - 1).toBeGreaterThanOrEqual(MIN_FREE);
    }
  });

  test("a line narrower than the fixed columns clips them and drops the free column", () => {
    const t = new TableFormat(30);
    expect(t.header()).toBe("TIME(UTC)    EVENTS         P…");
    expect(t.file(file, ctx)).toBe("15:59:04.123 F,CR,OP,MO,CW  p…");
  });

  test("a width that is not a number falls back to 120", () => {
    expect(new TableFormat(Number.NaN).header()).toBe(new TableFormat(120).header());
  });
});

describe("hostile names", () => {
  const t = new TableFormat(400);

  test("control, format and escape characters are shown escaped on one line", () => {
    const row = t.file({ ...hostile, origin: undefined }, ctx);
    checkRow(row, 400);
    expect(row).toContain(`/tmp/evil\\nname\\r\\t\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202etxt.exe\\u200b\\ud800"q'\\\\.txt`);
  });

  test("escapeText leaves printable text alone and escapes the backslash", () => {
    expect(escapeText("plain name-1.txt")).toBe("plain name-1.txt");
    expect(escapeText("q\"u'ote")).toBe("q\"u'ote");
    expect(escapeText("a\\b")).toBe("a\\\\b");
    expect(escapeText("\u00e9t\u00e9 \u7530")).toBe("\u00e9t\u00e9 \u7530");
    expect(escapeText("\u2028\u2029\ufeff\u{e0041}\x7f")).toBe("\\u2028\\u2029\\ufeff\\u{e0041}\\x7f");
    // invalid UTF-8 reaches the formatter as U+FFFD (records/bytes.ts) and is printable
    expect(escapeText("a\ufffdb")).toBe("a\ufffdb");
  });

  test("a 3000-byte path keeps its end and marks the cut", () => {
    for (const width of [80, 120, 200]) {
      const row = new TableFormat(width).file(longPath, ctx);
      checkRow(row, width);
      expect(textWidth(row)).toBe(width);
      expect(row).toEndWith("/final.log");
      expect(row).toContain(" …d");
    }
  });

  test("wide characters count two columns, combining marks none", () => {
    const row = new TableFormat(200).file(wide, ctx);
    checkRow(row, 200);
    expect(row).toEndWith(" /home/\u7530\u4e2d/\u5831\u544a\u66f8-\u{1F600}-e\u0301.txt");
    expect(textWidth("\u7530\u4e2d-\u{1F600}e\u0301")).toBe(Bun.stringWidth("\u7530\u4e2d-\u{1F600}e\u0301"));
    // cut in the middle of wide characters: never one column too many
    const narrow = new TableFormat(80).file({ ...wide, path: `/${"\u7530".repeat(60)}.txt` }, ctx);
    checkRow(narrow, 80);
  });

  test("the process name is escaped and cut too", () => {
    const row = t.file({ ...file, task: { ...task, comm: "a\nb", exe: "" } }, ctx);
    expect(row).toContain(" a\\nb ");
  });
});

describe("file rows", () => {
  const t = new TableFormat(200);
  const free = (row: string) => row.slice(new TableFormat(200).header().lastIndexOf(" ") + 1);

  test("a rename shows old name > new path", () => {
    const row = t.file(
      {
        ...file,
        path: "/srv/data/new.txt",
        origin: "old.txt",
        eventCounts: counts({ [FsEvent.FS_MOVED_FROM]: 1, [FsEvent.FS_MOVED_TO]: 1 }),
      },
      ctx,
    );
    expect(free(row)).toBe("old.txt>/srv/data/new.txt");
    expect(row).toContain(" F,MF,MT ");
  });

  test("a long rename keeps both the old name and the new name's end", () => {
    const r = { ...longPath, origin: `${"o".repeat(50)}.old` };
    for (const width of [80, 120]) {
      const row = new TableFormat(width).file(r, ctx);
      checkRow(row, width);
      expect(row).toMatch(/ …o+\.old>…d+\/final\.log$/);
    }
    const short = new TableFormat(80).file({ ...longPath, origin: "a.txt" }, ctx);
    expect(short).toMatch(/ a\.txt>…d+\/final\.log$/);
  });

  test("kind letters and event codes, '+' when the codes are cut", () => {
    expect(t.file({ ...file, mode: 0o120777 }, ctx)).toContain(" S,CR,OP,MO,CW ");
    expect(t.file({ ...file, nlink: 2 }, ctx)).toContain(" H,CR,OP,MO,CW ");
    expect(t.file(huge, ctx)).toContain(" F,CR,OP,OX,AC+ ");
  });

  test("without inode data the inode and size are '-'", () => {
    const row = t.file({ ...file, inodeKnown: false, mode: 0 }, ctx);
    expect(row).toContain(" ?,CR,OP,MO,CW ");
    expect(row).toMatch(/ +- +- +17 \/srv\/data\/report\.txt$/);
  });

  test("a truncated kernel path is marked", () => {
    expect(free(t.file({ ...file, pathTruncated: true }, ctx))).toBe("…/srv/data/report.txt");
  });

  test("big numbers are shortened, the 64-bit inode keeps its last digits", () => {
    const row = t.file(huge, ctxBig);
    expect(row).toContain(" 123M ");
    expect(row).toContain(" …709551614 ");
    expect(row).toContain(" 9.0P ");
    expect(row).toContain(" 4194302 4194303 ");
    expect(row).toContain(" …6789012 ");
    expect(row).toContain(" 9.0G ");
    expect(row).toContain(" kworker/u16:3-… ");
  });
});

describe("socket rows", () => {
  const t = new TableFormat(200);
  const free = (row: string) => row.slice(t.header().lastIndexOf(" ") + 1);

  test("UNIX socket: type, address and syslog messages", () => {
    const row = t.sock(syslog, ctx, logs);
    expect(row).toContain(" UNIX DGRAM ");
    expect(free(row)).toBe("/dev/log  SYSLOG 3");
    expect(row).toContain("   312/3 ");
    expect(free(t.sock({ ...syslog, unixPath: "@journal", type: 1 }, ctx, []))).toBe("@journal");
    expect(t.sock({ ...syslog, type: 1 }, ctx, [])).toContain(" UNIX STREAM ");
    expect(free(t.sock({ ...syslog, unixPath: "" }, ctx, []))).toBe("-");
  });

  test("IPv6 endpoints in brackets; servers point the arrow inwards", () => {
    expect(free(t.sock(server6, ctx, []))).toBe("[2001:db8::1]:443 <- [2001:db8::2]:51000");
    const mapped = { ...sock, family: 10, laddr: v6("00000000000000000000ffff0a010203"), raddr: v6("00000000000000000000ffff5db8d70e") };
    expect(free(t.sock(mapped, ctx, []))).toBe("[::ffff:10.1.2.3]:40022 -> [::ffff:93.184.215.14]:80");
  });

  test("long endpoints are cut on the left of each side, keeping ports", () => {
    const row = new TableFormat(80).sock(bigSock, ctx, []);
    checkRow(row, 80);
    expect(row).toMatch(/ …[0-9a-f:]+\]:443 <- …[0-9a-f:]+\]:51000$/);
  });

  test("the endpoints come first, the app summary gets what is left", () => {
    const row = new TableFormat(121).sock(sock, ctx, http);
    expect(row).toEndWith(" 10.1.2.3:40022 -> 93.184.215.14:80  …");
  });

  test("TCP states, UDP and packet counts", () => {
    expect(t.sock({ ...sock, state: 1 }, ctx, [])).toContain(" TCP ESTAB ");
    expect(t.sock({ ...sock, state: 2 }, ctx, [])).toContain(" TCP SYN_SENT ");
    expect(t.sock({ ...sock, state: 99 }, ctx, [])).toContain(" TCP 99 ");
    expect(t.sock({ ...dnsClient, state: 7 }, ctx, [])).toContain(" UDP CLOSE ");
    expect(t.sock(bigSock, ctx, [])).toContain(" 988T/123G  10G/99999 ");
  });

  test("app summary counts by kind", () => {
    expect(appSummary([])).toBe("");
    expect(appSummary([...logs, ...dns, ...http, msg(9, true)])).toBe("DNS 2 HTTP 2 SYSLOG 3 APP 1");
  });

  test("a socket not yet accepted has no process", () => {
    const row = t.sock({ ...server6, task: { ...server6.task, pid: 0, ppid: 0, comm: "", exe: "" } }, ctx, []);
    expect(row).toMatch(/ 0\.042 - +0 +0 /);
  });
});

describe("values", () => {
  test("time of day in UTC with milliseconds", () => {
    expect(clock(1764172744123456789n)).toBe("15:59:04.123");
    expect(clock(0n)).toBe("00:00:00.000");
    expect(clock(86_399_999_999_999n)).toBe("23:59:59.999");
  });

  test("durations", () => {
    expect(duration(250_000_001n, 8)).toBe("0.250");
    expect(duration(0n, 8)).toBe("0.000");
    expect(duration(-5_000_000n, 8)).toBe("-0.005");
    expect(duration(123_456_789_000_000n, 8)).toBe("123456");
    expect(duration(9_000_000_000_000_000_000n, 8)).toBe("9.0G");
    expect(duration(-9_000_000_000_000_000_000n, 8)).toBe("-9.0G");
  });

  test("compact numbers", () => {
    expect(compact(99_999, 5)).toBe("99999");
    expect(compact(100_000, 5)).toBe("100k");
    expect(compact(1_234_567, 5)).toBe("1.2M");
    expect(compact(999_999, 4)).toBe("1.0M");
    expect(compact(48_000_000, 7)).toBe("48M");
  });

  test("two-letter event codes follow the kernel's event order", () => {
    expect(EVENT_CODES).toEqual(["CR", "OP", "OX", "AC", "AT", "MO", "CW", "CN", "MF", "MT", "DE"]);
    expect(EVENT_CODES).toHaveLength(FS_EVENT_NAMES.length);
  });
});
