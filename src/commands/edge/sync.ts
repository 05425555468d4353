import type { Handler } from "../../cli/program.js";
import { UsageError } from "../../errors.js";

// `btw edge sync`: every route rendered from the state again — each tenant server's proxy
// (behind the edge: plain HTTP on its private address) and each edge proxy's table (host →
// the tenant's server). Both are validated before the graceful reload; a server that fails
// is reported and the others go on. Run it after switching proxy.mode to edge and
// `infra apply`, and whenever an edge proxy was replaced.
const handler: Handler = async (ctx, _args, opts) => {
  if (ctx.config.proxy.mode !== "edge") {
    throw new UsageError("proxy.mode is direct: there is no edge to sync", { code: "not-edge-mode", hint: "set proxy.mode: edge in btw.yml (see the README's section on the edge), then `btw infra apply`" });
  }
  const db = await ctx.db();
  const { listServers } = await import("../../state/servers.js");
  const { edgeCaddyfileFor } = await import("../../ops/edge/routes.js");
  const { ROLE_LABEL } = await import("../../core/infra/spec.js");
  // tenant servers only: a monitoring server runs no proxy
  const servers = (await listServers(db)).filter((s) => s.labels[ROLE_LABEL] !== "monitoring");
  const table = await edgeCaddyfileFor(db, ctx.config);
  if (table.unroutable.length) ctx.out.warn(`no private address known for the server of: ${table.unroutable.join(", ")} (label btw-private-ip or a private host address); the edge cannot route them`);
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, servers: servers.map((s) => s.name), edgeRoutes: table.routes, unroutable: table.unroutable }, () =>
      [
        `would re-render and reload the routes of ${servers.length} servers (${servers.map((s) => s.name).join(", ") || "none"})`,
        `would install an edge table of ${table.routes} routes on every edge proxy in the Terraform state (validated, then reloaded)`,
      ].join("\n"),
    );
    return;
  }

  const { Host } = await import("../../ops/host.js");
  const { ensureProxy, syncRoutes } = await import("../../ops/proxy.js");
  const { edgeTargets, syncEdgeTarget } = await import("../../ops/edge/switch.js");
  const { sshFor } = await import("../../ops/server/context.js");
  const { expectedIsolation, installIsolation } = await import("../../ops/server/isolation.js");
  const { PartialFailureError } = await import("../../errors.js");

  const edges = await edgeTargets(ctx);

  const results: Array<{ target: string; kind: "server" | "edge"; ok: boolean; routes?: number; error?: string }> = [];
  for (const s of servers) {
    try {
      const host = new Host(s.name, await sshFor(ctx, s));
      // the firewall first: once the fleet is behind the edge (switch done) it refuses new
      // connections to 80/443 on every address but the private one — the proxy keeps
      // publishing everywhere, so this stage reloads rules, never recreates Caddy
      const isolation = await expectedIsolation(db, ctx.config, s);
      if (isolation) await installIsolation(host, isolation);
      await ensureProxy(host, db, ctx, s.id);
      await syncRoutes(host, db, ctx, s);
      results.push({ target: s.name, kind: "server", ok: true });
    } catch (e) {
      results.push({ target: s.name, kind: "server", ok: false, error: (e as Error).message });
    }
  }
  for (const e of edges) {
    try {
      const r = await syncEdgeTarget(ctx, db, e, { ensure: true });
      results.push({ target: e.name, kind: "edge", ok: true, routes: r.routes });
    } catch (err) {
      results.push({ target: e.name, kind: "edge", ok: false, error: (err as Error).message });
    }
  }
  await ctx.audit("edge.sync", "edge", { results });
  const failed = results.filter((r) => !r.ok);
  ctx.out.result({ results, unroutable: table.unroutable }, () =>
    results.map((r) => (r.ok ? `${r.target}: ${r.kind === "edge" ? `${r.routes} routes` : "routes"} reloaded` : `${r.target}: FAILED: ${r.error}`)).join("\n"),
  );
  if (failed.length) throw new PartialFailureError(`${failed.length} of ${results.length} proxies were not synced: ${failed.map((f) => f.target).join(", ")}`, { hint: "fix the cause and re-run `btw edge sync` (the others keep their new routes)" });
};
export default handler;
