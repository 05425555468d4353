import type { Handler } from "../cli/program.js";
import type { ContainerSummary } from "../remote/docker.js";

// Fleet health: every server and every tenant on it, with ONE SSH connection per server
// (the Docker socket forwarded over it; one container listing per server, not per tenant).
const handler: Handler = async (ctx) => {
  const db = await ctx.db();
  const { listServers } = await import("../state/servers.js");
  const { listTenants } = await import("../state/tenants.js");
  const { remoteDocker, listBtwContainers } = await import("../remote/docker.js");
  const { sshFor } = await import("./server/shared.js");
  const [servers, tenants] = await Promise.all([listServers(db), listTenants(db)]);

  const perServer = await Promise.all(
    servers.map(async (s) => {
      try {
        const ssh = await sshFor(ctx, s);
        await ssh.connect();
        const rd = await remoteDocker(ssh);
        try {
          return { server: s.name, reachable: true, error: null as string | null, containers: await listBtwContainers(rd.docker) };
        } finally {
          await rd.close();
        }
      } catch (e) {
        return { server: s.name, reachable: false, error: (e as Error).message, containers: [] as ContainerSummary[] };
      }
    }),
  );
  const byServer = new Map(perServer.map((p) => [p.server, p]));
  const tenantRows = tenants.map((t) => {
    const live = byServer.get(t.serverName ?? "");
    const mine = live?.containers.filter((c) => c.tenant === t.slug) ?? [];
    const running = mine.filter((c) => c.state === "running").length;
    const unhealthy = mine.filter((c) => c.health === "unhealthy" || (c.state !== "running" && t.status === "active")).map((c) => c.service);
    const health = !live?.reachable ? "unknown" : t.status === "active" ? (mine.length > 0 && unhealthy.length === 0 && mine.every((c) => c.health !== "starting") ? "healthy" : mine.length === 0 ? "missing" : "unhealthy") : t.status;
    return { tenant: t.slug, server: t.serverName, plan: t.plan, status: t.status, containers: mine.length, running, health, unhealthy };
  });
  const serverRows = servers.map((s) => ({ server: s.name, status: s.status, reachable: byServer.get(s.name)!.reachable, error: byServer.get(s.name)!.error, tenants: s.tenantCount, capacity: `${s.usedCapacity}/${s.capacity}` }));
  ctx.out.result({ servers: serverRows, tenants: tenantRows }, () =>
    [
      ctx.out.table(serverRows, [
        { header: "server", value: (r) => r.server },
        { header: "status", value: (r) => (r.reachable ? r.status : "UNREACHABLE") },
        { header: "tenants", value: (r) => r.tenants, align: "right" },
        { header: "capacity", value: (r) => r.capacity, align: "right" },
        { header: "error", value: (r) => r.error },
      ]),
      tenantRows.length
        ? ctx.out.table(tenantRows, [
            { header: "tenant", value: (r) => r.tenant },
            { header: "server", value: (r) => r.server },
            { header: "plan", value: (r) => r.plan },
            { header: "status", value: (r) => r.status },
            { header: "health", value: (r) => r.health },
            { header: "containers", value: (r) => `${r.running}/${r.containers}`, align: "right" },
          ])
        : "no tenants",
    ].join("\n"),
  );
};
export default handler;
