// What proxy.mode changes on a tenant server's own proxy. Direct: it terminates TLS for its
// tenants (proxy.tls). Edge: TLS ends at the load balancer; the server's proxy serves plain
// HTTP to the edge proxies over the private network and trusts their X-Forwarded-* headers.

import type { Config } from "../../config/schema.js";

export function serverProxyTls(config: Pick<Config, "proxy" | "acmeEmail" | "hetzner">): { tls: "auto" | "off"; acmeEmail?: string; trustedProxies?: string[] } {
  if (config.proxy.mode === "edge") return { tls: "off", trustedProxies: [config.hetzner.networkRange] };
  return { tls: config.proxy.tls, ...(config.acmeEmail ? { acmeEmail: config.acmeEmail } : {}) };
}
