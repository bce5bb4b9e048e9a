import { describe, expect, test } from "bun:test";
import { cString, RecentText, text } from "../../../src/records/bytes.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("record byte readers", () => {
  test("cString stops at the NUL or the field's end; an empty field is ''", () => {
    const b = Uint8Array.from([0x61, 0x62, 0, 0x63, 0, 0, 0x64, 0x65]);
    expect(cString(b, 0, 8)).toBe("ab");
    expect(cString(b, 2, 4)).toBe("");
    expect(cString(b, 6, 2)).toBe("de");
  });

  test("RecentText gives what text() gives, for repeated, changed and same-length names", () => {
    const recent = new RecentText();
    const names = ["kfgen", "kfgen", "bash", "bush", "bush", "", "", "na\u00efve", "\xff\xfe", "kfgen"];
    // names at moving offsets in one buffer that is rewritten (as the ring batch buffer is)
    const buf = new Uint8Array(64);
    for (let i = 0; i < names.length; i++) {
      const bytes = names[i] === "\xff\xfe" ? Uint8Array.from([0xff, 0xfe]) : enc(names[i]!);
      buf.fill(0);
      const off = i % 7;
      buf.set(bytes, off);
      expect(recent.get(buf, off, bytes.length)).toBe(text(buf, off, bytes.length));
    }
  });
});
