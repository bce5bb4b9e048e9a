import { describe, expect, test } from "bun:test";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { defaultRouteInterface } from "../../src/enrich/host.ts";
import { parseIdNames, UserGroupNames } from "../../src/enrich/user-group.ts";

describe("users and groups", () => {
  test("parses passwd lines; the first entry of an id wins; junk is skipped", () => {
    const names = parseIdNames("root:x:0:0:root:/root:/bin/bash\n#c:x:5:\nbad\nalias:x:0:0::/:\nbob:x:70000:70000::/:\n");
    expect([...names]).toEqual([
      [0, "root"],
      [70000, "bob"],
    ]);
  });

  test("reloads a changed file on refresh()", () => {
    const dir = mkdtempSync(`${tmpdir()}/kflowd-ug-`);
    writeFileSync(`${dir}/passwd`, "alice:x:1000:1000::/:\n");
    writeFileSync(`${dir}/group`, "staff:x:50:\n");
    const ug = new UserGroupNames(`${dir}/passwd`, `${dir}/group`);
    expect([ug.user(1000), ug.group(50), ug.user(1001)]).toEqual(["alice", "staff", ""]);
    writeFileSync(`${dir}/passwd`, "alice:x:1000:1000::/:\ncarol:x:1001:1001::/:\n");
    utimesSync(`${dir}/passwd`, new Date(), new Date(Date.now() + 5000));
    ug.refresh();
    expect(ug.user(1001)).toBe("carol");
  });
});

describe("host", () => {
  test("default route interface from /proc/net/route", () => {
    const table =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
      "eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
      "eth1\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
    expect(defaultRouteInterface(table)).toBe("eth1");
    expect(defaultRouteInterface("Iface\tDestination\n")).toBeUndefined();
  });
});
