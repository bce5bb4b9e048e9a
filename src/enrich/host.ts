/** Host facts for the Info* keys, read once at start. */
import { readFileSync } from "node:fs";
import { hostname, networkInterfaces, release, type } from "node:os";

/** Interface of the IPv4 default route in /proc/net/route, if any. */
export function defaultRouteInterface(routeTable: string): string | undefined {
  for (const line of routeTable.split("\n").slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (destination === "00000000" && mask === "00000000") return iface;
  }
  return undefined;
}

/**
 * The host's primary IPv4 address: that of the default-route interface, else the first
 * non-loopback IPv4 address, else "". No packet is sent to find it.
 */
export function primaryIpv4(): string {
  const ifaces = networkInterfaces();
  let routeTable = "";
  try {
    routeTable = readFileSync("/proc/net/route", "utf8");
  } catch {}
  const preferred = defaultRouteInterface(routeTable);
  const candidates = preferred ? [preferred, ...Object.keys(ifaces)] : Object.keys(ifaces);
  for (const name of candidates) {
    const addr = ifaces[name]?.find((a) => a.family === "IPv4" && !a.internal);
    if (addr) return addr.address;
  }
  return "";
}

export function hostFacts(): { hostName: string; hostIp: string; system: string; kernel: string } {
  return { hostName: hostname(), hostIp: primaryIpv4(), system: type(), kernel: release() };
}
