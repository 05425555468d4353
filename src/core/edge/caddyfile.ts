// The edge proxies' Caddyfile, rendered from the state: every routed tenant's host (and its
// custom domains) → its server's private address, over plain HTTP on the private network.
// The load balancer in front terminates TLS (managed certificate) and forwards HTTP here;
// the tenant server's own proxy answers for the host (n8n, or the maintenance page).
// Sorted so the same state always gives the same bytes. Validated and reloaded by the same
// steps as a server's proxy (src/ops/proxy.ts `installCaddyfile`).

import { UsageError } from "../../errors.js";
import { hstsLines, refuseInternalPaths, requireCidr, reverseProxyLines, tlsPolicyLines } from "../proxy/caddyfile.js";
import { requireTenantSlug, tenantHost } from "../tenant/layout.js";

/** The path the load balancer's health check asks every edge proxy for. */
/** How long an edge proxy retries the dial to a server's proxy before it answers 502. */
export const EDGE_TRY_DURATION_SEC = 20;

export const EDGE_HEALTH_PATH = "/btw-edge-health";

/** The port the tenant servers' proxies listen on for the edge (plain HTTP, private network). */
export const SERVER_HTTP_PORT = 80;

export interface EdgeRoute {
  slug: string;
  /** the tenant's server, by name (for the header comment and errors) */
  server: string;
  /** the server's private IPv4 (or IPv6) address */
  upstream: string;
  /** custom domains routed to the same tenant */
  extraHosts?: readonly string[];
}

export interface EdgeCaddyfileInput {
  domain: string;
  routes: readonly EdgeRoute[];
  /** whose X-Forwarded-* headers to keep (CIDRs): the load balancer's private address; none when TLS ends here */
  trustedProxies: readonly string[];
  /**
   * Where HTTPS ends (edge.tls). load-balancer (default): the load balancer's managed
   * certificate; the edge serves plain HTTP. internal: the edge proxy itself, each host with a
   * certificate from Caddy's own CA (a lab, a hand-run edge whose clients trust that CA).
   */
  tls?: "load-balancer" | "internal";
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-f:]+$/i;

function upstreamAddress(route: EdgeRoute): string {
  if (IPV4.test(route.upstream)) return `${route.upstream}:${SERVER_HTTP_PORT}`;
  if (IPV6.test(route.upstream) && route.upstream.includes(":")) return `[${route.upstream}]:${SERVER_HTTP_PORT}`;
  throw new UsageError(`tenant ${route.slug}: server ${route.server} has no usable private address (${JSON.stringify(route.upstream)})`, { code: "invalid-route" });
}

function site(hosts: readonly string[], upstream: string, trusted: readonly string[], tls: "load-balancer" | "internal"): string[] {
  // hosts[0] is the platform's name for the tenant; the rest are the customer's own domains
  return [
    `${hosts.map((h) => `${tls === "internal" ? "https" : "http"}://${h}`).join(", ")} {`,
    ...(tls === "internal" ? tlsPolicyLines("internal", hosts.slice(0, 1)) : hstsLines(hosts.slice(0, 1))),
    ...refuseInternalPaths(),
    // The Host header passes through unchanged (Caddy's default): the server's proxy routes
    // by it. A short retry hides a server proxy's reload behind a slower answer. The load
    // balancer's X-Forwarded-For/-Proto (https) are kept; anyone else's replaced.
    // an edge holds a visitor's request while a server's proxy is recreated (stage done of a
    // switch, a new Caddy image): measured 5.2 s on the loaded lab, where 5 s gave one 502
    ...reverseProxyLines(upstream, trusted, EDGE_TRY_DURATION_SEC),
    "}",
  ];
}

/** The Caddyfile text of an edge proxy. Throws UsageError on input that could break it. */
export function renderEdgeCaddyfile(input: EdgeCaddyfileInput): string {
  if (!DNS_NAME.test(input.domain)) throw new UsageError(`domain ${JSON.stringify(input.domain)} is not a DNS name like example.com`, { code: "invalid-domain" });
  for (const c of input.trustedProxies) requireCidr(c);
  const tls = input.tls ?? "load-balancer";
  if (tls !== "load-balancer" && tls !== "internal") throw new UsageError(`invalid edge.tls ${JSON.stringify(tls)}`, { code: "invalid-edge-tls" });
  const owner = new Map<string, string>();
  const routes = [...input.routes].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  const blocks: string[][] = [];
  for (const r of routes) {
    requireTenantSlug(r.slug);
    const hosts = [tenantHost(r.slug, input.domain), ...[...(r.extraHosts ?? [])].sort()];
    for (const h of hosts) {
      if (!DNS_NAME.test(h)) throw new UsageError(`tenant ${r.slug}: ${JSON.stringify(h)} is not a DNS name`, { code: "invalid-route" });
      const taken = owner.get(h);
      if (taken !== undefined) throw new UsageError(`host ${h} is routed to both ${taken} and ${r.slug}`, { code: "invalid-route" });
      owner.set(h, r.slug);
    }
    blocks.push(site(hosts, upstreamAddress(r), input.trustedProxies, tls));
  }
  const servers = new Set(routes.map((r) => r.server)).size;
  return `${[
    [
      `# btw edge: rendered from the state (${routes.length} tenants on ${servers} servers).`,
      "# btw rewrites this file on every route change; edits are lost.",
      ...(tls === "internal"
        ? [
            // TLS ends here, with certificates from Caddy's own CA (its root stays in the
            // proxy's data volume; nothing is installed in the host's trust store). Plain
            // HTTP on :80 answers the health check and redirects the rest (block below).
            "{",
            "\tadmin localhost:2019",
            "\tskip_install_trust",
            "\tauto_https disable_redirects",
            "}",
          ]
        : [
            // TLS ends at the load balancer: the edge serves plain HTTP on the private network.
            "{",
            "\tadmin localhost:2019",
            "\tauto_https off",
            "}",
          ]),
    ],
    ...blocks,
    [
      "# The load balancer's health check; any other host is unknown.",
      "http:// {",
      // `route` keeps this order (Caddy would otherwise sort the directives itself).
      "\troute {",
      `\t\trespond ${EDGE_HEALTH_PATH} "ok" 200`,
      ...(tls === "internal" ? ["\t\tredir https://{host}{uri} 308"] : ['\t\trespond "Not found" 404']),
      "\t}",
      "}",
    ],
  ]
    .map((b) => b.join("\n"))
    .join("\n\n")}\n`;
}

/** A tenant as the state holds it, for edgeRoutes. */
export interface EdgeTenant {
  slug: string;
  status: string;
  serverId: number | null;
  extraHosts?: readonly string[];
}

export interface EdgeServer {
  id: number;
  name: string;
  /** its private address, or null when btw knows none */
  privateAddress: string | null;
}

/**
 * Tenants the edge routes: every one whose server's proxy answers for it (n8n, or the
 * maintenance page while it is suspended, restoring, migrating or upgrading) and those being
 * created. `unroutable` lists tenants whose server has no known private address.
 */
export const EDGE_ROUTED_STATUSES = ["provisioning", "active", "suspended", "restoring", "migrating", "upgrading"] as const;

export function edgeRoutes(tenants: readonly EdgeTenant[], servers: readonly EdgeServer[]): { routes: EdgeRoute[]; unroutable: string[] } {
  const byId = new Map(servers.map((s) => [s.id, s]));
  const routes: EdgeRoute[] = [];
  const unroutable: string[] = [];
  for (const t of tenants) {
    if (!(EDGE_ROUTED_STATUSES as readonly string[]).includes(t.status)) continue;
    const server = t.serverId === null ? undefined : byId.get(t.serverId);
    if (!server?.privateAddress) {
      unroutable.push(t.slug);
      continue;
    }
    routes.push({ slug: t.slug, server: server.name, upstream: server.privateAddress, ...(t.extraHosts?.length ? { extraHosts: t.extraHosts } : {}) });
  }
  return { routes, unroutable: unroutable.sort() };
}
