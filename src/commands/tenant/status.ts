import type { Handler } from "../../cli/program.js";
import { bytes } from "../server/shared.js";
import { hostFor, requireTenant, tenantServer } from "../../ops/tenant-context.js";

// Live view of one tenant: containers (state, health), CPU/memory/pids via dockerode over
// the SSH-forwarded Docker socket, and n8n's readiness through the SSH tunnel.
const handler: Handler = async (ctx, [name]) => {
  const db = await ctx.db();
  const t = await requireTenant(db, String(name));
  const server = await tenantServer(db, t);
  const host = await hostFor(ctx, server);
  await host.ssh.connect();
  const { remoteDocker, listBtwContainers, containerUsage } = await import("../../remote/docker.js");
  const rd = await remoteDocker(host.ssh);
  ctx.onClose(() => rd.close());
  const containers = (await listBtwContainers(rd.docker)).filter((c) => c.tenant === t.slug);
  const usage = await Promise.all(containers.map((c) => (c.state === "running" ? containerUsage(rd.docker, c.name) : Promise.resolve(null))));
  let ready: boolean | null = null;
  if (containers.some((c) => c.service === "n8n" && c.state === "running")) {
    const { openN8nTunnel } = await import("../../ops/n8n-tunnel.js");
    const tunnel = await openN8nTunnel(host, t.slug);
    try {
      ready = (await fetch(`${tunnel.baseUrl}/healthz/readiness`, { signal: AbortSignal.timeout(5000) }).catch(() => null))?.ok ?? false;
    } finally {
      await tunnel.close();
    }
  }
  const rows = containers.map((c, i) => ({ ...c, usage: usage[i] }));
  const healthy = rows.length > 0 && rows.every((r) => r.state === "running" && (r.health === null || r.health === "healthy")) && ready === true;
  ctx.out.result({ tenant: t.slug, status: t.status, server: server.name, n8nReady: ready, healthy, containers: rows }, () =>
    [
      `${t.slug} (${t.status}) on ${server.name}: n8n ${ready === null ? "not running" : ready ? "ready" : "NOT ready"}`,
      ctx.out.table(rows, [
        { header: "service", value: (r) => r.service },
        { header: "state", value: (r) => r.state },
        { header: "health", value: (r) => r.health },
        { header: "cpu", value: (r) => (r.usage ? `${r.usage.cpuPercent.toFixed(1)}%` : null), align: "right" },
        { header: "memory", value: (r) => (r.usage ? `${bytes(r.usage.memoryBytes)}/${bytes(r.usage.memoryLimitBytes)}` : null), align: "right" },
        { header: "pids", value: (r) => r.usage?.pids ?? null, align: "right" },
      ]),
    ].join("\n"),
  );
};
export default handler;
