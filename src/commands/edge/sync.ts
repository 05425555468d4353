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

  const { infraSetup, prepare, tf } = await import("../infra/shared.js");
  const { outputArgs } = await import("../../core/infra/terraform.js");
  const { parseServerOutputs } = await import("../../core/infra/outputs.js");
  const { Host } = await import("../../ops/host.js");
  const { syncRoutes } = await import("../../ops/proxy.js");
  const { syncEdgeRoutes } = await import("../../ops/edge/routes.js");
  const { sshFor } = await import("../server/shared.js");
  const { PartialFailureError, OperationError } = await import("../../errors.js");

  const setup = infraSetup(ctx);
  await prepare(ctx, setup);
  const edges = parseServerOutputs((await tf(ctx, setup, outputArgs())).stdout).filter((o) => o.role === "edge");
  if (edges.length === 0) throw new OperationError("no edge servers in the Terraform state", { code: "no-edge", hint: "run `btw infra plan` and `btw infra apply` with proxy.mode: edge" });

  const results: Array<{ target: string; kind: "server" | "edge"; ok: boolean; routes?: number; error?: string }> = [];
  for (const s of servers) {
    try {
      await syncRoutes(new Host(s.name, await sshFor(ctx, s)), db, ctx.config, s);
      results.push({ target: s.name, kind: "server", ok: true });
    } catch (e) {
      results.push({ target: s.name, kind: "server", ok: false, error: (e as Error).message });
    }
  }
  for (const e of edges) {
    try {
      const ssh = await sshFor(ctx, { name: e.name, host: e.ipv4, port: ctx.config.ssh.port, sshUser: ctx.config.ssh.user, sshKeyPath: null });
      const r = await syncEdgeRoutes(new Host(e.name, ssh), db, ctx.config);
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
