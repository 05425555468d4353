// What proxy.mode changes on a tenant server's own proxy. Direct: it terminates TLS for its
// tenants (proxy.tls) and trusts nobody's X-Forwarded-* headers. Edge: TLS ends at the load
// balancer; the server's proxy serves plain HTTP to the edge proxies over the private network
// and trusts their X-Forwarded-* headers — theirs only: the rest of the private network (a
// tenant's n8n on another server sends from it too) has its headers replaced.
//
// Between the two, while a fleet moves to the edge (edge.switch prepare or dns), a server
// does both: its public sites keep their certificates for visitors whose DNS still gives the
// server's address, and each tenant also answers the edge in plain HTTP (no redirect to
// HTTPS on port 80). Its ports stay published on every address, always; the firewall keeps
// public 80/443 open until edge.switch is done, then refuses them (the host's isolation
// rules, and the cloud firewall).

import { isIP } from "node:net";
import type { Config } from "../../config/schema.js";
import type { RouteProbeTarget } from "../commands/route-probe.js";
import { edgeServerIp, loadBalancerIp } from "../infra/edge.js";

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
  if (config.proxy.mode === "edge" && !serversPublic(config)) return { tls: "off", trustedProxies: edgeProxyRanges(config) };
  const direct = { tls: config.proxy.tls, ...(config.acmeEmail ? { acmeEmail: config.acmeEmail } : {}) };
  if (config.proxy.mode === "edge") return { ...direct, trustedProxies: edgeProxyRanges(config), edgePlainHttp: true };
  return direct;
}

/**
 * The one address on which a server's proxy takes new web connections (80/443): behind the
 * edge (once the fleet is there), its private address — the firewall refuses the others
 * (isolation's webOnlyTo) while the proxy keeps publishing on every address, so the switch's
 * last stage is a rule change, not a proxy recreate; null — every address — in direct mode,
 * while the fleet moves to the edge, or when btw knows no private address.
 */
export function edgeOnlyAddress(config: Pick<Config, "proxy" | "edge">, privateAddress: string | null): string | null {
  return privateAddress && config.proxy.mode === "edge" && !serversPublic(config) ? privateAddress : null;
}

/**
 * Where `btw status` asks a server's proxy for its tenants' pages, from the server itself: the
 * scheme and port visitors (or the edge) use — https on 443 where the proxy terminates TLS,
 * plain HTTP on 80 where it does not (proxy.tls off, behind the edge) — at the address it is
 * published on.
 */
export function serverRouteProbeTarget(config: Pick<Config, "proxy" | "acmeEmail" | "hetzner" | "edge">, privateAddress: string | null): RouteProbeTarget {
  const address = edgeOnlyAddress(config, privateAddress) ?? "127.0.0.1";
  return serverProxyTls(config).tls === "off" ? { scheme: "http", port: 80, address } : { scheme: "https", port: 443, address };
}

/** The same for an edge proxy (published on every address of its server): https where it ends TLS itself (edge.tls internal). */
export function edgeRouteProbeTarget(config: Pick<Config, "edge">): RouteProbeTarget {
  return config.edge.tls === "internal" ? { scheme: "https", port: 443, address: "127.0.0.1" } : { scheme: "http", port: 80, address: "127.0.0.1" };
}

const hostRange = (ip: string) => `${ip}/${isIP(ip) === 6 ? 128 : 32}`;

/**
 * Where the edge proxies' requests reach the servers from: a hand-run edge's `privateIp`s
 * (edge.proxies; one without is left out), else the stack's edge servers' private addresses.
 */
export function edgeProxyRanges(config: Pick<Config, "hetzner" | "edge">): string[] {
  const listed = config.edge.proxies;
  if (listed !== undefined && listed.length > 0) return listed.flatMap((p) => (p.privateIp === undefined ? [] : [hostRange(p.privateIp)]));
  return Array.from({ length: config.edge.servers }, (_, i) => hostRange(edgeServerIp(config.hetzner.subnetRange, i + 1)));
}

/**
 * Whose X-Forwarded-* headers an edge proxy keeps: the load balancer's (its private address,
 * from which it forwards to its targets), or nobody's when the edge terminates TLS itself
 * (edge.tls internal: visitors connect to it directly).
 */
export function edgeTrustedProxies(config: Pick<Config, "hetzner" | "edge">): string[] {
  return config.edge.tls === "internal" ? [] : [hostRange(loadBalancerIp(config.hetzner.subnetRange))];
}
