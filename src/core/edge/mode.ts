// What proxy.mode changes on a tenant server's own proxy. Direct: it terminates TLS for its
// tenants (proxy.tls). Edge: TLS ends at the load balancer; the server's proxy serves plain
// HTTP to the edge proxies over the private network and trusts their X-Forwarded-* headers.
//
// Between the two, while a fleet moves to the edge (edge.switch prepare or dns), a server
// does both: its public sites keep their certificates for visitors whose DNS still gives the
// server's address, and each tenant also answers the edge in plain HTTP (no redirect to
// HTTPS on port 80). Its ports stay published on every address and the firewall keeps public
// 80/443 open until edge.switch is done.

import type { Config } from "../../config/schema.js";

/** proxy.mode edge with the servers still serving the internet (edge.switch prepare or dns). */
export function serversPublic(config: Pick<Config, "proxy" | "edge">): boolean {
  return config.proxy.mode === "edge" && config.edge.switch !== "done";
}

export function serverProxyTls(config: Pick<Config, "proxy" | "acmeEmail" | "hetzner" | "edge">): {
  tls: "auto" | "off";
  acmeEmail?: string;
  trustedProxies?: string[];
  edgePlainHttp?: boolean;
} {
  if (config.proxy.mode === "edge" && !serversPublic(config)) return { tls: "off", trustedProxies: [config.hetzner.networkRange] };
  const direct = { tls: config.proxy.tls, ...(config.acmeEmail ? { acmeEmail: config.acmeEmail } : {}) };
  if (config.proxy.mode === "edge") return { ...direct, trustedProxies: [config.hetzner.networkRange], edgePlainHttp: true };
  return direct;
}
