// The server's Caddyfile, rendered from the state: every live tenant on that server, sorted
// by name so the same state always gives the same bytes (and an unchanged route table means
// an unchanged file). Caddy ≥ 2.6 (the lab runs Debian's 2.6.2).

import { UsageError } from "../../errors.js";
import { N8N_PORT, requireTenantSlug, tenantHost, tenantLayout } from "../tenant/layout.js";

/** How the proxy treats a tenant: `active` routes to its n8n, `suspended` answers 503. */
export type ProxyTenantStatus = "active" | "suspended";

export interface CaddyfileInput {
  /** auto: Let's Encrypt certificate per tenant host; off: plain HTTP (labs) */
  tls: "auto" | "off";
  /** ACME account contact, used with tls auto */
  acmeEmail?: string;
  domain: string;
  /** extraHosts: the tenant's custom domains (`tenant domain add`), served by the same site */
  tenants: ReadonlyArray<{ slug: string; status: ProxyTenantStatus; extraHosts?: readonly string[] }>;
  /**
   * A plain-HTTP listener on this port serving each active tenant's n8n /metrics at
   * /tenants/<name>/metrics, for Prometheus. The proxy's compose file publishes it on the
   * server's private address only; no public site serves /metrics. Every request must carry
   * `Authorization: Bearer <token>` (the server's metrics token, sealed in the state; Prometheus
   * reads it from a credentials file): an address proves nothing here. The proxy also sits on
   * every tenant's edge network, so requests from `denyFrom` (the tenants' subnet pool) are
   * refused outright — except from `allowFrom`, the edge networks' gateways: on a server that
   * runs the monitoring stack too, Docker masquerades Prometheus' requests to the published
   * port behind the gateway of the proxy's network they enter. Those still need the token.
   */
  metrics?: { port: number; token: string; denyFrom: readonly string[]; allowFrom?: readonly string[] };
  /**
   * Behind the edge: the edge proxies' addresses (CIDRs), the only peers whose X-Forwarded-*
   * headers Caddy keeps, so n8n sees the visitor's address and `https` instead of the edge's
   * hop; anyone else's are replaced (reverseProxyLines). Absent in direct mode: nobody's.
   */
  trustedProxies?: readonly string[];
  /**
   * While a fleet moves to the edge (edge.switch prepare/dns) with tls auto: each tenant
   * also answers plain HTTP (the edge proxies' requests) instead of redirecting port 80 to
   * HTTPS; its HTTPS site keeps its certificate for visitors still sent here by DNS. ACME's
   * HTTP challenges on port 80 still reach Caddy (it answers them before any route).
   */
  edgePlainHttp?: boolean;
}

/**
 * n8n's internal endpoints, refused on every public site (the direct-mode proxy and the
 * edge): `/metrics` (N8N_METRICS: workflow counts, versions, process facts) is for the
 * private metrics listener only. `/healthz` and `/healthz/readiness` stay public: they
 * answer a bare status, and uptime probes from outside use them.
 */
export const N8N_INTERNAL_PATHS = ["/metrics", "/metrics/*"] as const;

/** The lines that refuse N8N_INTERNAL_PATHS in a site block (`respond` runs before `reverse_proxy`). */
export function refuseInternalPaths(indent = "\t"): string[] {
  return [`${indent}@internal path ${N8N_INTERNAL_PATHS.join(" ")}`, `${indent}respond @internal "Not found" 404`];
}

/**
 * A site's `reverse_proxy` to `upstream` (the tenant's n8n, or from the edge its server's
 * proxy), keeping X-Forwarded-* only from `trusted`: the proxies in front of this one (for a
 * server's proxy the edge proxies, for an edge proxy the load balancer; nobody in direct
 * mode). n8n trusts one hop (N8N_PROXY_HOPS=1): the client it sees is the header's last
 * entry, and a Webhook node's IP allow-list and the per-IP login throttling rest on it.
 *
 * A trusted peer's request goes to the first `reverse_proxy`: `trusted_proxies` (the
 * reverse_proxy option of Caddy ≥ 2.5; the global `servers` one came in 2.6.3, after the
 * lab's 2.6.2) keeps its X-Forwarded-Proto (https at the load balancer), and X-Forwarded-For
 * is passed on as it came instead of gaining this hop, so the visitor stays the last entry
 * in every mode. Anyone else's request goes to the second, where Caddy replaces the three
 * headers with what it sees itself (the peer's address). Caddy puts the one with a matcher
 * first (httpcaddyfile's sortRoutes), whatever the order in the file.
 */
export function reverseProxyLines(upstream: string, trusted: readonly string[]): string[] {
  for (const c of trusted) requireCidr(c);
  const options = ["\t\tlb_try_duration 5s", "\t\ttransport http {", "\t\t\tdial_timeout 3s", "\t\t}", "\t}"];
  if (trusted.length === 0) return [`\treverse_proxy ${upstream} {`, ...options];
  const ranges = trusted.join(" ");
  return [
    `\t@trusted remote_ip ${ranges}`,
    `\treverse_proxy @trusted ${upstream} {`,
    `\t\ttrusted_proxies ${ranges}`,
    "\t\theader_up X-Forwarded-For {http.request.header.X-Forwarded-For}",
    ...options,
    `\treverse_proxy ${upstream} {`,
    ...options,
  ];
}

/** Seconds a suspended tenant's visitors are told to wait (Retry-After). */
export const MAINTENANCE_RETRY_AFTER_SEC = 3600;

// Plain HTML without braces (Caddy placeholders) or backticks (the token's quotes).
export const MAINTENANCE_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
  "<title>Temporarily unavailable</title></head><body style=\"font-family:sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">" +
  "<h1>Temporarily unavailable</h1><p>This workspace is paused. Please try again later.</p></body></html>";

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const EMAIL = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;

// With tls auto, listing a custom domain in the site is what makes Caddy obtain its certificate.
function siteAddress(slug: string, input: CaddyfileInput, extraHosts: readonly string[] = []): string {
  return [tenantHost(slug, input.domain), ...[...extraHosts].sort()].map((h) => (input.tls === "off" ? `http://${h}` : h)).join(", ");
}

function activeSite(slug: string, input: CaddyfileInput, extraHosts?: readonly string[]): string[] {
  return [
    `${siteAddress(slug, input, extraHosts)} {`,
    ...refuseInternalPaths(),
    // Caddy sets X-Forwarded-For/-Proto/-Host (behind the edge: the edge proxies' kept) and
    // upgrades websockets by itself. Retrying the dial for a few seconds hides n8n
    // restarts (set-plan, upgrades) behind a slower answer instead of a 502.
    ...reverseProxyLines(`${tenantLayout(slug).edgeAlias}:${N8N_PORT}`, input.trustedProxies ?? []),
    "}",
  ];
}

const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-f:]+\/\d{1,3}$/i;

/** Throws UsageError unless `c` is a CIDR (it is spliced into the file). */
export function requireCidr(c: string): void {
  if (!CIDR.test(c)) throw new UsageError(`invalid CIDR ${JSON.stringify(c)}`, { code: "invalid-cidr" });
}

/** A metrics token as btw generates it (hex or base64url, long): nothing that could end the quoted value. */
const METRICS_TOKEN = /^[A-Za-z0-9_-]{32,128}$/;

function metricsSite(m: NonNullable<CaddyfileInput["metrics"]>, slugs: readonly string[]): string[] {
  const allow = m.allowFrom ?? [];
  for (const c of [...m.denyFrom, ...allow]) requireCidr(c);
  if (!Number.isInteger(m.port) || m.port < 1 || m.port > 65535) throw new UsageError(`invalid metrics port ${m.port}`, { code: "invalid-port" });
  // never echo the value: it is a credential
  if (!METRICS_TOKEN.test(m.token)) throw new UsageError("invalid metrics token: expected 32–128 characters of [A-Za-z0-9_-]", { code: "invalid-metrics-token" });
  // `route` keeps this order as written (Caddy would otherwise sort `handle` before `respond`).
  return [
    `http://:${m.port} {`,
    ...(m.denyFrom.length && allow.length
      ? ["\t@tenants {", `\t\tremote_ip ${m.denyFrom.join(" ")}`, `\t\tnot remote_ip ${allow.join(" ")}`, "\t}"]
      : m.denyFrom.length ? [`\t@tenants remote_ip ${m.denyFrom.join(" ")}`] : []),
    `\t@unauthenticated not header Authorization "Bearer ${m.token}"`,
    "\troute {",
    ...(m.denyFrom.length ? ['\t\trespond @tenants "Forbidden" 403'] : []),
    '\t\trespond @unauthenticated "Unauthorized" 401',
    ...slugs.flatMap((slug) => [
      `\t\thandle /tenants/${slug}/metrics {`,
      "\t\t\trewrite * /metrics",
      // the token stops here: the tenant's n8n never sees it
      `\t\t\treverse_proxy ${tenantLayout(slug).edgeAlias}:${N8N_PORT} {`,
      "\t\t\t\theader_up -Authorization",
      "\t\t\t}",
      "\t\t}",
    ]),
    '\t\trespond "Not found" 404',
    "\t}",
    "}",
  ];
}

function suspendedSite(slug: string, input: CaddyfileInput, extraHosts?: readonly string[]): string[] {
  return [`${siteAddress(slug, input, extraHosts)} {`, "\timport maintenance", "}"];
}

/** The Caddyfile text for one server. Throws UsageError on input that could break it. */
export function renderCaddyfile(input: CaddyfileInput): string {
  if (input.tls !== "auto" && input.tls !== "off") throw new UsageError(`invalid proxy.tls '${String(input.tls)}'`, { code: "invalid-proxy-tls" });
  if (!DNS_NAME.test(input.domain)) throw new UsageError(`domain ${JSON.stringify(input.domain)} is not a DNS name like example.com`, { code: "invalid-domain" });
  if (input.acmeEmail !== undefined && !EMAIL.test(input.acmeEmail)) {
    throw new UsageError(`acmeEmail ${JSON.stringify(input.acmeEmail)} is not an email address`, { code: "invalid-acme-email" });
  }
  for (const c of input.trustedProxies ?? []) requireCidr(c);
  const seen = new Set<string>();
  for (const t of input.tenants) {
    requireTenantSlug(t.slug);
    if (t.status !== "active" && t.status !== "suspended") {
      throw new UsageError(`tenant ${t.slug}: the proxy routes only active or suspended tenants (got '${String(t.status)}')`, { code: "invalid-route" });
    }
    if (seen.has(t.slug)) throw new UsageError(`tenant ${t.slug} is listed twice`, { code: "invalid-route" });
    seen.add(t.slug);
  }
  const owner = new Map(input.tenants.map((t) => [tenantHost(t.slug, input.domain), t.slug]));
  for (const t of input.tenants) {
    for (const h of t.extraHosts ?? []) {
      if (!DNS_NAME.test(h)) throw new UsageError(`tenant ${t.slug}: ${JSON.stringify(h)} is not a DNS name`, { code: "invalid-route" });
      const taken = owner.get(h);
      if (taken !== undefined) throw new UsageError(`host ${h} is routed to both ${taken} and ${t.slug}`, { code: "invalid-route" });
      owner.set(h, t.slug);
    }
  }
  const tenants = [...input.tenants].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  const active = tenants.filter((t) => t.status === "active").length;

  const global = ["{", "\tadmin localhost:2019"];
  // plain-HTTP twins only where the sites are HTTPS (with tls off they serve HTTP already)
  const twins = input.edgePlainHttp === true && input.tls === "auto";
  if (input.tls === "off") global.push("\tauto_https off");
  else {
    if (twins) global.push("\tauto_https disable_redirects");
    if (input.acmeEmail !== undefined) global.push(`\temail ${input.acmeEmail}`);
  }
  global.push("}");
  const plain: CaddyfileInput = { ...input, tls: "off" };

  const blocks: string[][] = [
    [
      `# btw proxy: rendered from the state (${tenants.length} tenants, ${active} active, ${tenants.length - active} suspended).`,
      "# btw rewrites this file on every route change; edits are lost.",
      ...global,
    ],
    [
      "(maintenance) {",
      `\theader Retry-After ${MAINTENANCE_RETRY_AFTER_SEC}`,
      "\theader Cache-Control no-store",
      '\theader Content-Type "text/html; charset=utf-8"',
      `\trespond \`${MAINTENANCE_PAGE}\` 503`,
      "}",
    ],
    ...tenants.map((t) => (t.status === "active" ? activeSite(t.slug, input, t.extraHosts) : suspendedSite(t.slug, input, t.extraHosts))),
    ...(twins
      ? tenants.map((t, i) => [
          ...(i === 0 ? ["# The same tenants in plain HTTP for the edge proxies, while the fleet moves to the edge (edge.switch)."] : []),
          ...(t.status === "active" ? activeSite(t.slug, plain, t.extraHosts) : suspendedSite(t.slug, plain, t.extraHosts)),
        ])
      : []),
    ...(input.metrics === undefined
      ? []
      : [["# Tenants' n8n metrics for Prometheus (published on the private address only).", ...metricsSite(input.metrics, tenants.filter((t) => t.status === "active").map((t) => t.slug))]]),
    // Any other host on port 80. (With tls auto, Caddy puts the tenants' HTTP→HTTPS
    // redirects before this; an unknown host on 443 gets no certificate and no answer.)
    ["# Unknown hosts.", "http:// {", '\trespond "Not found" 404', "}"],
  ];
  return `${blocks.map((b) => b.join("\n")).join("\n\n")}\n`;
}
