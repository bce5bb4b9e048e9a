/** A private dnsmasq for the tests: answers only from the records given, on one address. */

/**
 * dnsmasq's command line: in the foreground, no configuration, resolv.conf or hosts file,
 * listening on addr:53 only, answering from `records` (--local, --host-record, --cname,
 * ... options) with TTL 300 where they name none.
 */
export function dnsmasqCommand(addr: string, records: readonly string[]): string[] {
  return [
    "dnsmasq",
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    "--no-poll",
    "--bind-interfaces",
    `--listen-address=${addr}`,
    "--port=53",
    "--pid-file=",
    "--user=root",
    "--group=root",
    "--log-facility=/dev/null",
    "--local-ttl=300",
    ...records,
  ];
}
