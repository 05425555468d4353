// The server's proxy configuration: a main Caddyfile rendered from the server's settings, and
// one site file per btw state rendered from that state — every live tenant it has on that
// server, sorted by name so the same state always gives the same bytes (and an unchanged route
// table means an unchanged file). Caddy ≥ 2.6 (the lab runs Debian's 2.6.2).

import { UsageError } from "../../errors.js";
import { stateSitesName } from "./layout.js";
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
export function reverseProxyLines(upstream: string, trusted: readonly string[], tryDurationSec = 5): string[] {
  for (const c of trusted) requireCidr(c);
  if (!Number.isInteger(tryDurationSec) || tryDurationSec < 1 || tryDurationSec > 120) throw new UsageError(`invalid lb_try_duration ${tryDurationSec}`, { code: "invalid-argument" });
  const options = [`\t\tlb_try_duration ${tryDurationSec}s`, "\t\ttransport http {", "\t\t\tdial_timeout 3s", "\t\t}", "\t}"];
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

/** TLS where btw's proxies end it: 1.2 at least, 1.3 preferred (Caddy offers it first), nothing older. */
export const TLS_PROTOCOLS = "tls1.2 tls1.3";
/** HSTS on the platform's own names, a year; a customer's own domain is the customer's to pin. */
export const HSTS_VALUE = "max-age=31536000";

/**
 * The TLS policy of a site whose TLS ends at this proxy (a server's proxy with proxy.tls auto,
 * an edge proxy with edge.tls internal): its certificate's issuer (Caddy's ACME default, or
 * Caddy's own CA), the protocol floor, HSTS on the platform hosts among the site's names.
 */
export function tlsPolicyLines(issuer: "acme" | "internal", platformHosts: readonly string[]): string[] {
  return [`	tls${issuer === "internal" ? " internal" : ""} {`, `		protocols ${TLS_PROTOCOLS}`, "	}", ...hstsLines(platformHosts)];
}

/** HSTS for the platform hosts only (also behind a load balancer that ends TLS: visitors reach it over HTTPS). */
export function hstsLines(platformHosts: readonly string[]): string[] {
  return [`	@platform host ${platformHosts.join(" ")}`, `	header @platform Strict-Transport-Security "${HSTS_VALUE}"`];
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
    ...(input.tls === "auto" ? tlsPolicyLines("acme", [tenantHost(slug, input.domain)]) : []),
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

/**
 * One tenant's metrics path on the listener: a `handle` that the main file's metrics site
 * takes in (`import sites/*.metrics` inside its `route`), so that each btw state's file carries
 * its own tenants' with its own token (a server's token is sealed in each state that routes
 * there). Other paths get the main file's 401, to anyone: no tenant name is learnt without a token.
 */
function metricsHandle(m: NonNullable<CaddyfileInput["metrics"]>, slug: string): string[] {
  const allow = m.allowFrom ?? [];
  // `route` keeps this order as written (Caddy would otherwise sort `rewrite` before `respond`).
  return [
    `handle /tenants/${slug}/metrics {`,
    ...(m.denyFrom.length && allow.length
      ? ["\t@tenants {", `\t\tremote_ip ${m.denyFrom.join(" ")}`, `\t\tnot remote_ip ${allow.join(" ")}`, "\t}"]
      : m.denyFrom.length ? [`\t@tenants remote_ip ${m.denyFrom.join(" ")}`] : []),
    `\t@unauthenticated not header Authorization "Bearer ${m.token}"`,
    "\troute {",
    ...(m.denyFrom.length ? ['\t\trespond @tenants "Forbidden" 403'] : []),
    '\t\trespond @unauthenticated "Unauthorized" 401',
    "\t\trewrite * /metrics",
    // the token stops here: the tenant's n8n never sees it
    `\t\treverse_proxy ${tenantLayout(slug).edgeAlias}:${N8N_PORT} {`,
    "\t\t\theader_up -Authorization",
    "\t\t}",
    "\t}",
    "}",
  ];
}

function requireMetrics(m: NonNullable<CaddyfileInput["metrics"]>): void {
  for (const c of [...m.denyFrom, ...(m.allowFrom ?? [])]) requireCidr(c);
  requireMetricsPort(m.port);
  // never echo the value: it is a credential
  if (!METRICS_TOKEN.test(m.token)) throw new UsageError("invalid metrics token: expected 32–128 characters of [A-Za-z0-9_-]", { code: "invalid-metrics-token" });
}

function requireMetricsPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`invalid metrics port ${port}`, { code: "invalid-port" });
}

function suspendedSite(slug: string, input: CaddyfileInput, extraHosts?: readonly string[]): string[] {
  return [`${siteAddress(slug, input, extraHosts)} {`, ...(input.tls === "auto" ? tlsPolicyLines("acme", [tenantHost(slug, input.domain)]) : []), "\timport maintenance", "}"];
}

/**
 * What the main Caddyfile depends on: the server's settings, never a state's tenants, so every
 * btw state sharing the server renders the same bytes (global options must live here: Caddy
 * reads them only from the top of the main file).
 */
export interface MainCaddyfileInput {
  tls: "auto" | "off";
  acmeEmail?: string;
  /** `auto_https disable_redirects` while the fleet moves to the edge (see CaddyfileInput) */
  edgePlainHttp?: boolean;
  /** the metrics listener's port: its catch-all answers 404 (the states' files add their tenants' paths) */
  metricsPort?: number;
}

/** The line of the main Caddyfile that takes in every state's site file (relative to the main file). */
export const SITES_IMPORT = "import sites/*.caddy";
/** The line of the metrics site that takes in every state's metrics handles. */
export const METRICS_IMPORT = "import sites/*.metrics";

/** The main Caddyfile of a server's proxy: global options, shared snippets, the states' site files, catch-alls. */
export function renderMainCaddyfile(input: MainCaddyfileInput): string {
  return mainBlocks(input, [[SITES_IMPORT]], [METRICS_IMPORT]);
}

/**
 * One btw state's files: `sites` (sites/<stateId>.caddy: its tenants' sites, and their
 * plain-HTTP twins behind a moving edge) and `metrics` (sites/<stateId>.metrics: its active
 * tenants' metrics paths). With no tenant, each holds its header comment alone (Caddy 2.6
 * refuses to import a file with no token at all, and a comment is enough).
 */
export function renderStateSites(input: CaddyfileInput & { stateId: string }): { sites: string; metrics: string } {
  stateSitesName(input.stateId); // a uuid: it is written into the file
  const { tenants, active } = checkInput(input);
  const header = `# btw proxy: the ${"%s"} of btw state ${input.stateId} (${tenants.length} tenants, ${active} active, ${tenants.length - active} suspended).`;
  const note = "# btw rewrites this file on every route change of that state; edits are lost. Other states' files sit beside it.";
  const sites = [[header.replace("%s", "sites"), note], ...siteBlocks(input, tenants)].map((b) => b.join("\n")).join("\n\n");
  const metrics = [header.replace("%s", "tenants' metrics paths"), note, ...metricsHandles(input, tenants)].join("\n");
  return { sites: `${sites}\n`, metrics: `${metrics}\n` };
}

/**
 * The main Caddyfile with one state's sites inline instead of imported: the configuration Caddy
 * runs when that state is the only one on the server, in one text (what the tests load).
 */
export function renderCaddyfile(input: CaddyfileInput): string {
  const { tenants, active } = checkInput(input);
  const header = [`# btw proxy: rendered from the state (${tenants.length} tenants, ${active} active, ${tenants.length - active} suspended).`, "# btw rewrites this file on every route change; edits are lost."];
  const main = { tls: input.tls, ...(input.acmeEmail !== undefined ? { acmeEmail: input.acmeEmail } : {}), ...(input.edgePlainHttp !== undefined ? { edgePlainHttp: input.edgePlainHttp } : {}), ...(input.metrics ? { metricsPort: input.metrics.port } : {}) };
  return mainBlocks(main, siteBlocks(input, tenants), metricsHandles(input, tenants), header);
}

function checkInput(input: CaddyfileInput): { tenants: CaddyfileInput["tenants"]; active: number } {
  if (input.tls !== "auto" && input.tls !== "off") throw new UsageError(`invalid proxy.tls '${String(input.tls)}'`, { code: "invalid-proxy-tls" });
  if (!DNS_NAME.test(input.domain)) throw new UsageError(`domain ${JSON.stringify(input.domain)} is not a DNS name like example.com`, { code: "invalid-domain" });
  for (const c of input.trustedProxies ?? []) requireCidr(c);
  if (input.metrics) requireMetrics(input.metrics);
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
  return { tenants, active: tenants.filter((t) => t.status === "active").length };
}

function siteBlocks(input: CaddyfileInput, tenants: CaddyfileInput["tenants"]): string[][] {
  // plain-HTTP twins only where the sites are HTTPS (with tls off they serve HTTP already)
  const twins = input.edgePlainHttp === true && input.tls === "auto";
  const plain: CaddyfileInput = { ...input, tls: "off" };
  return [
    ...tenants.map((t) => (t.status === "active" ? activeSite(t.slug, input, t.extraHosts) : suspendedSite(t.slug, input, t.extraHosts))),
    ...(twins
      ? tenants.map((t, i) => [
          ...(i === 0 ? ["# The same tenants in plain HTTP for the edge proxies, while the fleet moves to the edge (edge.switch)."] : []),
          ...(t.status === "active" ? activeSite(t.slug, plain, t.extraHosts) : suspendedSite(t.slug, plain, t.extraHosts)),
        ])
      : []),
  ];
}

/** The metrics handles of the active tenants, in one list of lines (indented as in their own file). */
function metricsHandles(input: CaddyfileInput, tenants: CaddyfileInput["tenants"]): string[] {
  const m = input.metrics;
  if (m === undefined) return [];
  return tenants.filter((t) => t.status === "active").flatMap((t) => metricsHandle(m, t.slug));
}

const MAIN_HEADER = [
  "# btw proxy: the server's settings; the tenants' sites are in sites/<btw state id>.caddy, one file per btw state.",
  "# btw rewrites this file from its config; edits are lost.",
];

function mainBlocks(input: MainCaddyfileInput, sites: string[][], metrics: readonly string[], header: readonly string[] = MAIN_HEADER): string {
  if (input.tls !== "auto" && input.tls !== "off") throw new UsageError(`invalid proxy.tls '${String(input.tls)}'`, { code: "invalid-proxy-tls" });
  if (input.acmeEmail !== undefined && !EMAIL.test(input.acmeEmail)) {
    throw new UsageError(`acmeEmail ${JSON.stringify(input.acmeEmail)} is not an email address`, { code: "invalid-acme-email" });
  }
  if (input.metricsPort !== undefined) requireMetricsPort(input.metricsPort);
  const global = ["{", "\tadmin localhost:2019"];
  if (input.tls === "off") global.push("\tauto_https off");
  else {
    if (input.edgePlainHttp === true) global.push("\tauto_https disable_redirects");
    if (input.acmeEmail !== undefined) global.push(`\temail ${input.acmeEmail}`);
  }
  global.push("}");
  const blocks: string[][] = [
    [...header, ...global],
    [
      "(maintenance) {",
      `\theader Retry-After ${MAINTENANCE_RETRY_AFTER_SEC}`,
      "\theader Cache-Control no-store",
      '\theader Content-Type "text/html; charset=utf-8"',
      `\trespond \`${MAINTENANCE_PAGE}\` 503`,
      "}",
    ],
    ...sites,
    ...(input.metricsPort === undefined
      ? []
      : [
          [
            "# Tenants' n8n metrics for Prometheus (published on the private address only).",
            `http://:${input.metricsPort} {`,
            "\troute {",
            ...metrics.map((l) => `\t\t${l}`),
            '\t\trespond "Unauthorized" 401',
            "\t}",
            "}",
          ],
        ]),
    // Any other host on port 80. (With tls auto, Caddy puts the tenants' HTTP→HTTPS
    // redirects before this; an unknown host on 443 gets no certificate and no answer.)
    ["# Unknown hosts.", "http:// {", '\trespond "Not found" 404', "}"],
  ];
  return `${blocks.map((b) => b.join("\n")).join("\n\n")}\n`;
}
