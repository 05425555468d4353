import type { Config } from "../../config/schema.js";
import { EDGE_ROUTED_STATUSES, edgeRoutes, renderEdgeCaddyfile } from "../../core/edge/caddyfile.js";
import { edgeTrustedProxies } from "../../core/edge/mode.js";
import { privateAddress } from "../../core/monitoring/targets.js";
import type { Db } from "../../state/db.js";
import { listServers } from "../../state/servers.js";
import { listTenants } from "../../state/tenants.js";
import type { Host } from "../host.js";
import { installCaddyfile } from "../proxy.js";

// An edge proxy's routing table, rendered from the state (every routed tenant → its server's
// private address) and installed like a server's: candidate, `caddy validate`, atomic
// replace, graceful `caddy reload`. An edge server runs the same btw-proxy container
// (templates/proxy/compose.yml, written by its cloud-init); only the Caddyfile differs.
// Migration cutover is this re-render after the tenant's row points at its new server.

/** The edge Caddyfile for the current state, and the tenants it cannot route (no private address known). */
export async function edgeCaddyfileFor(db: Db, config: Config): Promise<{ text: string; routes: number; unroutable: string[] }> {
  const [tenants, servers] = await Promise.all([listTenants(db, { status: [...EDGE_ROUTED_STATUSES] }), listServers(db)]);
  const { domainsByTenant } = await import("../../state/tenant-domains.js");
  const domains = await domainsByTenant(db, tenants.map((t) => t.id));
  const { routes, unroutable } = edgeRoutes(
    tenants.map((t) => ({ slug: t.slug, status: t.status, serverId: t.serverId, ...(domains.get(t.id)?.length ? { extraHosts: domains.get(t.id)! } : {}) })),
    servers.map((s) => ({ id: s.id, name: s.name, privateAddress: privateAddress(s) })),
  );
  return { text: renderEdgeCaddyfile({ domain: config.domain, routes, trustedProxies: edgeTrustedProxies(config), tls: config.edge.tls }), routes: routes.length, unroutable };
}

/**
 * The edge proxy's container and files, as its cloud-init writes them (templates/proxy): the
 * compose file, its .env (image, limits), a first Caddyfile when there is none; then `compose
 * up` (idempotent: recreates Caddy only when the image or the template changed). `btw edge
 * sync` runs it, so an edge proxy that lost its container, or a hand-run edge (edge.proxies),
 * converges like a tenant server's proxy.
 */
async function ensureEdgeProxy(host: Host, config: Config, firstText: string): Promise<void> {
  const { asset } = await import("../assets.js");
  const { PROXY_LAYOUT } = await import("../../core/proxy/layout.js");
  const { renderProxyEnv } = await import("../../core/proxy/env.js");
  const { proxyAdoptNetwork, proxyComposeUp } = await import("../../core/commands/proxy.js");
  await host.mkdir(PROXY_LAYOUT.confDir);
  await Promise.all([
    host.writeFile(PROXY_LAYOUT.composeFile, asset("templates/proxy/compose.yml")),
    host.writeFile(PROXY_LAYOUT.envFile, renderProxyEnv({ caddyImage: config.images.caddy }), "0600"),
  ]);
  const exists = await host.run(["test", "-f", PROXY_LAYOUT.caddyfile], { allowFailure: true });
  if (exists.exitCode !== 0) await host.writeFile(PROXY_LAYOUT.caddyfile, firstText);
  await host.run(proxyComposeUp({ wait: true }), { timeoutMs: 180_000 });
  await host.run(proxyAdoptNetwork(), { timeoutMs: 60_000 });
}

/**
 * Re-renders and reloads one edge proxy, under its proxy lock. `ensure`: first converge its
 * container and files (`edge sync`); a migration's cutover only swaps the table.
 */
export async function syncEdgeRoutes(host: Host, db: Db, config: Config, opts: { ensure?: boolean } = {}): Promise<{ routes: number; unroutable: string[] }> {
  const lock = await db.lock({ kind: "server", name: `${host.name}:proxy` }, { timeoutMs: 60_000 });
  try {
    const { text, routes, unroutable } = await edgeCaddyfileFor(db, config);
    if (opts.ensure) await ensureEdgeProxy(host, config, text);
    await installCaddyfile(host, host.name, text);
    return { routes, unroutable };
  } finally {
    await lock.release();
  }
}
