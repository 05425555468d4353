// The DNS lookups of `tenant domain add`, through node:dns with its own Resolver: the
// system's servers by default, or BTW_DNS_SERVERS (comma-separated `ip` or `ip:port`,
// `[ipv6]:port`) — how tests and labs point btw at their own resolver.

import { Resolver } from "node:dns/promises";
import type { DnsLookup } from "../core/edge/domains.js";
import { ConfigError, OperationError } from "../errors.js";

const NO_RECORD = new Set(["ENODATA", "ENOTFOUND", "NXDOMAIN", "ENONAME"]);

/** BTW_DNS_SERVERS as node:dns wants it; an empty list: the system's resolvers. */
export function dnsServersFrom(env: Record<string, string | undefined>): string[] {
  const raw = env.BTW_DNS_SERVERS?.trim();
  if (!raw) return [];
  const servers = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of servers) {
    if (!/^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-f:]+\](:\d{1,5})?|[0-9a-f:]+)$/i.test(s)) {
      throw new ConfigError(`BTW_DNS_SERVERS: ${JSON.stringify(s)} is not an address (ip, ip:port or [ipv6]:port)`, { code: "invalid-dns-servers" });
    }
  }
  return servers;
}

export function dnsLookup(servers: readonly string[], timeoutMs = 3000): DnsLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length) resolver.setServers([...servers]);
  const ask = async (what: string, host: string, f: () => Promise<string[]>): Promise<string[]> => {
    try {
      return await f();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (NO_RECORD.has(code)) return [];
      throw new OperationError(`cannot look up ${what} of ${host}: ${code || (e as Error).message}`, { code: "dns-failed", hint: "check the network or BTW_DNS_SERVERS; --skip-dns-check adds the domain without looking" });
    }
  };
  return {
    cname: (host) => ask("the CNAME", host, () => resolver.resolveCname(host)),
    addresses: async (host) => {
      const [v4, v6] = await Promise.all([ask("the A records", host, () => resolver.resolve4(host)), ask("the AAAA records", host, () => resolver.resolve6(host))]);
      return [...v4, ...v6];
    },
    // a TXT record's strings (each at most 255 bytes on the wire) are one value
    txt: async (host) => (await ask("the TXT records", host, async () => (await resolver.resolveTxt(host)).map((chunks) => chunks.join("")))),
  };
}
