import type { Handler } from "../cli/program.js";
import type { ContainerSummary } from "../remote/docker.js";
import { ExitCode } from "../errors.js";
import { describeUnfinished, isTransitional, JOURNAL_KINDS, unfinishedOperation } from "../core/tenant/unfinished.js";
import { spread, versionOf } from "../core/upgrade/plan.js";
import { imagesOf } from "../ops/tenant-context.js";
import { describeRouteAnswer, tenantRoute, type RouteAnswer, type TenantRoute } from "../core/commands/route-probe.js";

// Fleet health: every server and every tenant on it, with ONE SSH connection per server
// (the Docker socket forwarded over it; one container listing per server, not per tenant).
// A tenant left mid-mutation (restoring, migrating, upgrading, provisioning) serves the
// maintenance page until someone finishes it: degraded, with the command that does. Each
// server's tenant isolation rules are read over the same connection and compared with btw's:
// missing (never installed, flushed) or different is degraded, naming `btw server isolate`.
// Each active tenant is also asked for where customers look: its host names (and custom
// domains) through the server's proxy, n8n's /healthz — one remote command per server for all
// its tenants. Healthy containers behind a route answering anything else (404 from a proxy
// whose config another btw state rewrote, a 502) are degraded, with the answer.
const handler: Handler = async (ctx) => {
  const db = await ctx.db();
  const { listServers } = await import("../state/servers.js");
  const { listTenants } = await import("../state/tenants.js");
  const { remoteDocker, listBtwContainers } = await import("../remote/docker.js");
  const { sshFor } = await import("../ops/server/context.js");
  const { liveIsolation } = await import("../ops/server/isolation.js");
  const { probeRoutes } = await import("../remote/probe-server.js");
  const { serverRouteProbeTarget } = await import("../core/edge/mode.js");
  const { privateAddress } = await import("../core/monitoring/targets.js");
  const { tenantHost } = await import("../core/tenant/layout.js");
  const { domainsByTenant } = await import("../state/tenant-domains.js");
  const [servers, tenants] = await Promise.all([listServers(db), listTenants(db)]);
  // the names customers use: each active tenant's own, then its custom domains
  const routed = tenants.filter((t) => t.status === "active" && t.serverName);
  const domains = await domainsByTenant(db, routed.map((t) => t.id));
  const hostsOf = new Map(routed.map((t) => [t.slug, [tenantHost(t.slug, ctx.config.domain), ...(domains.get(t.id) ?? [])]]));
  // behind the edge, the edge proxies too (asked for the same names, as the load balancer
  // forwards visitors): read alongside the servers, not after them
  const edgePending = ctx.config.proxy.mode === "edge" ? import("../ops/edge/status.js").then((m) => m.edgeStatus(ctx, db, [...hostsOf.values()].flat())) : null;
  edgePending?.catch(() => {}); // awaited below; no unhandled rejection if a step before fails first

  const perServer = await Promise.all(
    servers.map(async (s) => {
      try {
        const ssh = await sshFor(ctx, s);
        await ssh.connect();
        const isolation = liveIsolation(ssh, db, ctx.config, s);
        isolation.catch(() => {}); // awaited below
        const hosts = routed.filter((t) => t.serverName === s.name).flatMap((t) => hostsOf.get(t.slug)!);
        const routes = probeRoutes(ssh, serverRouteProbeTarget(ctx.config, privateAddress(s)), hosts); // never rejects
        const rd = await remoteDocker(ssh);
        try {
          return { server: s.name, reachable: true, error: null as string | null, containers: await listBtwContainers(rd.docker), isolation: await isolation, routes: await routes };
        } finally {
          await rd.close();
        }
      } catch (e) {
        return { server: s.name, reachable: false, error: (e as Error).message, containers: [] as ContainerSummary[], isolation: null, routes: [] as RouteAnswer[] };
      }
    }),
  );
  const byServer = new Map(perServer.map((p) => [p.server, p]));
  const edge = edgePending ? await edgePending : null;
  const caught = tenants.filter((t) => isTransitional(t.status));
  const { newestSteps } = await import("../state/operations.js");
  const journal = await newestSteps(db, caught.map((t) => t.id), Object.values(JOURNAL_KINDS));
  const unfinished = new Map(caught.map((t) => [t.id, unfinishedOperation(t, journal.filter((r) => r.tenantId === t.id))]));
  const tenantRows = tenants.map((t) => {
    const live = byServer.get(t.serverName ?? "");
    const mine = live?.containers.filter((c) => c.tenant === t.slug) ?? [];
    const running = mine.filter((c) => c.state === "running").length;
    const unhealthy = mine.filter((c) => c.health === "unhealthy" || (c.state !== "running" && t.status === "active")).map((c) => c.service);
    const answers = hostsOf.get(t.slug)?.flatMap((h) => live?.routes.filter((a) => a.host === h) ?? []) ?? [];
    // null: not asked (not active, or its server unreachable)
    const route = live?.reachable && answers.length > 0 ? tenantRoute(`${t.serverName}'s proxy`, answers) : null;
    // and through each edge proxy btw reached ([] in direct mode)
    const edgeRoutes = (edge?.routes ?? []).flatMap((e) => {
      const mineAtEdge = hostsOf.get(t.slug)?.flatMap((h) => e.answers.filter((a) => a.host === h)) ?? [];
      return mineAtEdge.length ? [tenantRoute(`edge proxy ${e.proxy}`, mineAtEdge)] : [];
    });
    const containers = !live?.reachable ? "unknown" : t.status === "active" ? (mine.length > 0 && unhealthy.length === 0 && mine.every((c) => c.health !== "starting") ? "healthy" : mine.length === 0 ? "missing" : "unhealthy") : t.status;
    // containers healthy, yet customers do not reach its n8n
    const health = containers === "healthy" && [route, ...edgeRoutes].some((r) => r !== null && !r.ok) ? "degraded" : containers;
    const images = imagesOf(ctx, t);
    const versions = { n8n: versionOf(images.n8n), postgres: versionOf(images.postgres), redis: versionOf(images.redis) };
    return { tenant: t.slug, server: t.serverName, plan: t.plan, status: t.status, containers: mine.length, running, health, unhealthy, versions, unfinished: unfinished.get(t.id) ?? null, route, edgeRoutes };
  });
  // the fleet's spread, as `upgrade plan` shows it: how many tenants per n8n version
  const fleet = spread(tenants.map((t) => imagesOf(ctx, t).n8n));
  const serverRows = servers.map((s) => {
    const live = byServer.get(s.name)!;
    // unknown when unreachable; n/a on an edge proxy (no tenants, never isolated)
    const isolation = !live.reachable ? "unknown" : live.isolation?.state ?? "n/a";
    return { server: s.name, status: s.status, reachable: live.reachable, error: live.error, tenants: s.tenantCount, capacity: `${s.usedCapacity}/${s.capacity}`, isolation, isolationProblems: live.isolation?.problems ?? [] };
  });
  // Scheduled jobs whose last run failed, and notifications that never reached anyone.
  const { lastRunPerJob, undeliveredNotifications } = await import("../state/job-runs.js");
  const [lastRuns, undelivered] = await Promise.all([lastRunPerJob(db), undeliveredNotifications(db)]);
  const failedJobs = lastRuns.filter((r) => r.exitCode !== null && r.exitCode !== 0).map((r) => ({ job: r.job, startedAt: r.startedAt, exitCode: r.exitCode }));
  const notifications = undelivered.map((r) => ({ job: r.job, startedAt: r.startedAt, failed: r.notified.filter((d) => !d.ok) }));
  const degraded =
    serverRows.some((r) => !r.reachable) ||
    serverRows.some((r) => r.isolationProblems.length > 0) ||
    tenantRows.some((r) => r.status === "active" && r.health !== "healthy") ||
    tenantRows.some((r) => r.unfinished !== null) ||
    failedJobs.length > 0 ||
    notifications.length > 0 ||
    (edge !== null && (edge.proxies.some((p) => !p.ok) || edge.unroutable.length > 0));
  const edgeJson = edge ? { edge: edge.proxies, edgeUnroutable: edge.unroutable } : {};
  ctx.out.result({ healthy: !degraded, servers: serverRows, tenants: tenantRows, fleet: { n8n: fleet }, failedJobs, undeliveredNotifications: notifications, ...edgeJson }, () =>
    [
      ctx.out.table(serverRows, [
        { header: "server", value: (r) => r.server },
        { header: "status", value: (r) => (r.reachable ? r.status : "UNREACHABLE") },
        { header: "tenants", value: (r) => r.tenants, align: "right" },
        { header: "capacity", value: (r) => r.capacity, align: "right" },
        { header: "isolation", value: (r) => r.isolation },
        { header: "error", value: (r) => r.error },
      ]),
      ...serverRows.flatMap((r) => r.isolationProblems),
      tenantRows.length
        ? ctx.out.table(tenantRows, [
            { header: "tenant", value: (r) => r.tenant },
            { header: "server", value: (r) => r.server },
            { header: "plan", value: (r) => r.plan },
            { header: "status", value: (r) => r.status },
            { header: "health", value: (r) => r.health },
            { header: "containers", value: (r) => `${r.running}/${r.containers}`, align: "right" },
            { header: "route", value: (r) => routeCell(r.route, r.edgeRoutes) },
            { header: "n8n", value: (r) => r.versions.n8n },
            { header: "postgres", value: (r) => r.versions.postgres },
            { header: "redis", value: (r) => r.versions.redis },
          ])
        : "no tenants",
      ...(edge
        ? [
            ctx.out.table(edge.proxies, [
              { header: "edge proxy", value: (r) => r.proxy },
              { header: "health", value: (r) => r.health },
              { header: "routes", value: (r) => r.drift },
              { header: "detail", value: (r) => r.detail },
            ]),
            ...(edge.unroutable.length ? [`edge: no private address known for the server of ${edge.unroutable.join(", ")}: the edge cannot route them`] : []),
          ]
        : []),
      ...(fleet.length ? [`fleet: ${fleet.map((f) => `${f.tenants}× n8n ${f.version}`).join(", ")}`] : []),
      ...tenantRows.flatMap((r) => (r.health === "degraded" ? [r.route, ...r.edgeRoutes].flatMap((x) => (x && !x.ok ? [describeBadRoute(r.tenant, r.server ?? "", x, ctx.config.proxy.mode)] : [])) : [])),
      ...tenantRows.flatMap((r) => (r.unfinished ? [describeUnfinished({ slug: r.tenant, status: r.status, plan: r.plan }, r.unfinished)] : [])),
      ...failedJobs.map((j) => `job ${j.job} failed (exit ${j.exitCode}) at ${j.startedAt.toISOString()}: \`btw schedule status\``),
      ...notifications.flatMap((n) => n.failed.map((d) => `NOT DELIVERED: the notice of ${n.job} at ${n.startedAt.toISOString()} by ${d.channel}: ${d.error ?? "unknown error"}`)),
    ].join("\n"),
  );
  // for scripts: 0 all healthy, 3 degraded (1 — btw cannot tell — comes from an error)
  return degraded ? ExitCode.partial : ExitCode.ok;
};

/** The table's cell: the first route that fails, else the server proxy's status; - when not asked. */
function routeCell(route: TenantRoute | null, edgeRoutes: readonly TenantRoute[]): string {
  const bad = [route, ...edgeRoutes].find((r) => r !== null && !r.ok);
  if (bad) return describeRouteAnswer(bad).slice(0, 40);
  return route === null ? "-" : String(route.status);
}

/** The line under the table for a tenant customers do not reach, with the command that re-renders its routes. */
function describeBadRoute(tenant: string, server: string, route: TenantRoute, mode: "direct" | "edge"): string {
  const fix = mode === "edge" ? "`btw edge sync`" : `\`btw server bootstrap ${server}\``;
  return `tenant ${tenant}: ${route.host} answered ${describeRouteAnswer(route)} through ${route.via} while its containers are healthy; ${fix} renders the routes from the state again`;
}
export default handler;
