import { describe, expect, test } from "bun:test";
import { pretty } from "../../../src/format/pretty.ts";
import { fileMode, permissions, seconds9, timestamp } from "../../../src/format/values.ts";
import { text } from "../../../src/records/bytes.ts";

describe("seconds9", () => {
  test.each([
    [0n, "0"],
    [1n, "0.000000001"],
    [1_000_000_000n, "1.000000000"],
    [22_470_000_123n, "22.470000123"],
    [-1_500_000_000n, "-1.500000000"],
    [18_446_744_073_709_551_615n, "18446744073.709551615"],
  ])("%p ns -> %s", (ns, s) => expect(seconds9(ns)).toBe(s));
});

describe("timestamp", () => {
  test("kflowd's format, in UTC, nanoseconds kept", () => {
    expect(timestamp(1712244875643031330n)).toBe("Thu, Apr 04 2024 15:34:35.643031330 UTC");
    expect(timestamp(0n)).toBe("Thu, Jan 01 1970 00:00:00.000000000 UTC");
    expect(timestamp(1712244875000000007n)).toBe("Thu, Apr 04 2024 15:34:35.000000007 UTC");
  });
});

describe("permissions and mode", () => {
  test.each([
    [0o100644, "0644/-rw-r--r--"],
    [0o100755, "0755/-rwxr-xr-x"],
    [0o104755, "4755/-rwxr-xr-x"],
    [0o120777, "0777/lrwxrwxrwx"],
    [0o101000, "1000/----------"],
  ])("%o -> %s", (mode, s) => expect(permissions(mode)).toBe(s));

  test("symlink beats hardlink, hardlink needs two links", () => {
    expect(fileMode(0o120777, 3)).toBe("symlink");
    expect(fileMode(0o100644, 2)).toBe("hardlink");
    expect(fileMode(0o100644, 1)).toBe("regular");
    expect(fileMode(0o100644, 0)).toBe("regular");
  });
});

describe("bytes from the kernel", () => {
  test("invalid UTF-8 becomes U+FFFD, the rest is kept", () => {
    const bytes = new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0xc3, 0xa9, 0xe2, 0x82]);
    expect(text(bytes, 0, bytes.length)).toBe("a\uFFFD\uFFFDbé\uFFFD");
    expect(JSON.parse(JSON.stringify(text(bytes, 0, bytes.length)))).toBe("a\uFFFD\uFFFDbé\uFFFD");
  });
});

describe("pretty layout", () => {
  test("braces, brackets and commas inside strings are copied as they are", () => {
    const min = '{"A": "x{,}[\\"]", "B": {"C": 1}}';
    expect(pretty(min)).toBe('{\n  "A": "x{,}[\\"]",\n  "B": {\n    "C": 1\n  }\n}');
    expect(JSON.parse(pretty(min))).toEqual(JSON.parse(min));
  });

  test("scalar arrays stay on one line", () => {
    expect(pretty('{"Flags": ["QR", "RD"], "N": 1}')).toBe('{\n  "Flags": ["QR", "RD"],\n  "N": 1\n}');
  });
});
