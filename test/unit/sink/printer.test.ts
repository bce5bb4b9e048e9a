// The printer hands every output what it should get, formatted once: stdout as -o says,
// the collectors what stdout shows as JSON, the line outputs one-line JSON whatever -o says.
import { describe, expect, test } from "bun:test";
import type { HostInfo } from "../../../src/format/common.ts";
import { pretty } from "../../../src/format/pretty.ts";
import type { OutputFormat } from "../../../src/config.ts";
import type { FileRecord } from "../../../src/records/file.ts";
import { FsEvent } from "../../../src/records/layout.gen.ts";
import type { LineOutput, OutputStatus } from "../../../src/sink/line-output.ts";
import { RecordPrinter } from "../../../src/sink/printer.ts";
import { type Sink, stdoutSink, type Writer } from "../../../src/sink/stdout.ts";
import type { UdpSink } from "../../../src/sink/udp.ts";
import { counts, task } from "../format/fixtures.ts";

const host: HostInfo = {
  hostName: "web-01",
  hostIp: "10.1.2.3",
  hostToken: undefined,
  system: "Linux",
  kernel: "6.18.0",
  version: "kflowd-v0.1.0",
};

function record(name: string): FileRecord {
  return {
    task,
    tsFirstNs: 5_000_000_000n,
    tsNs: 5_250_000_001n,
    ino: 42n,
    dev: (8 << 20) | 1,
    mode: 0o100644,
    nlink: 1,
    uid: 0,
    gid: 0,
    events: 3,
    eventCounts: counts({ [FsEvent.FS_CREATE]: 1, [FsEvent.FS_OPEN]: 1, [FsEvent.FS_CLOSE_WRITE]: 1 }),
    size: 3,
    sizeFirst: 0,
    atimeNs: 1712244875643031330n,
    mtimeNs: 1712244876000000001n,
    ctimeNs: 1712244877999999999n,
    mtimeFirstNs: 1712244876000000001n,
    path: `/srv/data/${name}`,
    pathTruncated: false,
    origin: undefined,
    inodeKnown: true,
    deferred: false,
  };
}

/** A line output that keeps copies of the lines it is given. */
class Lines implements LineOutput {
  readonly got: string[] = [];
  flushes = 0;
  line(bytes: Uint8Array, start: number, end: number): void {
    this.got.push(new TextDecoder().decode(bytes.slice(start, end)));
  }
  flush(): void {
    this.flushes++;
  }
  async close(): Promise<void> {}
  status(): OutputStatus {
    return { output: "test", target: "-", up: true, records: this.got.length, dropped: 0, queuedBytes: 0 };
  }
}

class TextWriter implements Writer {
  text = "";
  write(chunk: Uint8Array): number {
    this.text += new TextDecoder().decode(chunk);
    return chunk.length;
  }
  flush(): number {
    return 0;
  }
  end(): number {
    return 0;
  }
  unref(): void {}
}

function setup(output: OutputFormat, lines: LineOutput[], collectors?: UdpSink, toStdout = true) {
  const w = new TextWriter();
  const stdout: Sink = stdoutSink(w, { readerGone: () => undefined });
  const printer = new RecordPrinter(
    {
      host,
      names: { user: () => "root", group: () => "root" },
      devices: { device: () => "" },
      interfaces: { interface: () => "" },
      cgroups: { cgroup: () => undefined },
      remoteNames: { remoteName: () => undefined },
    },
    { output, width: 120, toStdout, stdout, collectors, lines },
  );
  return { printer, stdout, w };
}

function collector(): UdpSink & { got: string[] } {
  const got: string[] = [];
  return { got, send: (t: string) => void got.push(t), close() {}, failed: 0, refused: 0, sent: 0 };
}

describe("record printer and line outputs", () => {
  test("json-min: every line output gets exactly stdout's line, without the newline", () => {
    const a = new Lines();
    const b = new Lines();
    const { printer, stdout, w } = setup("json-min", [a, b]);
    for (const n of ["one", "twö", 'th"ree']) printer.file(record(n), undefined);
    stdout.flush();
    const shown = w.text.split("\n").slice(0, -1);
    expect(shown).toHaveLength(3);
    expect(a.got).toEqual(shown);
    expect(b.got).toEqual(shown);
    expect(a.got.map((l) => (JSON.parse(l) as { File: string }).File)).toEqual(["one", "twö", 'th"ree']);
    expect(printer.files).toBe(3);
  });

  test("json (pretty) on stdout and for collectors; the line outputs still get one line", () => {
    const lines = new Lines();
    const udp = collector();
    const { printer, stdout, w } = setup("json", [lines], udp);
    printer.file(record("a.txt"), undefined);
    stdout.flush();
    expect(lines.got).toHaveLength(1);
    expect(lines.got[0]).not.toContain("\n");
    expect(w.text).toBe(`${pretty(lines.got[0]!)}\n\x1e\n`);
    expect(udp.got).toEqual([pretty(lines.got[0]!)]);
  });

  test("table on stdout: collectors and line outputs get one-line JSON", () => {
    const lines = new Lines();
    const udp = collector();
    const { printer, stdout, w } = setup("table", [lines], udp);
    printer.file(record("b.txt"), undefined);
    stdout.flush();
    expect(w.text).not.toContain("{");
    expect(udp.got).toEqual(lines.got);
    expect(JSON.parse(lines.got[0]!)).toMatchObject({ File: "b.txt", FilePath: "/srv/data/" });
  });

  test("-q: nothing on stdout, the line outputs get every record", () => {
    const lines = new Lines();
    const { printer, stdout, w } = setup("json-min", [lines], undefined, false);
    printer.file(record("c.txt"), undefined);
    printer.file(record("d.txt"), undefined);
    stdout.flush();
    expect(w.text).toBe("");
    expect(lines.got.map((l) => (JSON.parse(l) as { File: string }).File)).toEqual(["c.txt", "d.txt"]);
    expect((JSON.parse(lines.got[1]!) as { InfoSequenceNumber: number }).InfoSequenceNumber).toBe(2);
  });
});
