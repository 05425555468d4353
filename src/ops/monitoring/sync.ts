// `btw monitoring sync`: everything Prometheus needs from btw's state, rendered and placed on
// the monitoring server — scrape targets, alert rules, prometheus.yml, btw's own metrics.
// Run on demand and by commands that change the fleet.

import type { Ctx } from "../../cli/context.js";
import { renderPrometheusConfig } from "../../core/monitoring/prometheus-config.js";
import { renderAlertRules } from "../../core/monitoring/rules.js";
import { MONITORING_LAYOUT, planMonitoringSync, type SyncStep } from "../../core/monitoring/sync-plan.js";
import { privateAddress, ROLE_LABEL, renderScrapeTargets } from "../../core/monitoring/targets.js";
import { UsageError } from "../../errors.js";
import type { Queryable } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import { btwMetricsText, writeLocalMetrics } from "./publish.js";

export interface SyncPlan {
  server: string;
  /** btw's metrics as placed on the server (also written locally when applied) */
  metrics: string;
  steps: SyncStep[];
  counts: { servers: number; tenants: number };
}

/** The monitoring server: --server, or the one registered with the monitoring role. */
export async function monitoringServer(db: Queryable, name?: string): Promise<ServerRow> {
  const { listServers } = await import("../../state/servers.js");
  const servers = await listServers(db);
  if (name) {
    const s = servers.find((x) => x.name === name);
    if (!s) throw new UsageError(`server '${name}' does not exist`, { code: "server-not-found", hint: "`btw server list`" });
    return s;
  }
  const mon = servers.filter((s) => s.labels[ROLE_LABEL] === "monitoring");
  if (mon.length === 1) return mon[0]!;
  throw new UsageError(mon.length === 0 ? "no server has the monitoring role" : `${mon.length} servers have the monitoring role: say which`, {
    code: "monitoring-server",
    hint: "pass --server <name> (or give one the role: `btw server add … --role monitoring`, or hetzner.monitoring: true and `btw infra apply`)",
  });
}

/**
 * The plan of a sync. Each server scraped on a private address gets its metrics token into
 * Prometheus' credentials directory — made now if the server has none yet (its proxy asks
 * for it from its next render on). A dry run makes and reads none: it plans placeholders.
 */
export async function planSync(ctx: Ctx, db: Queryable, serverName?: string, opts: { dryRun?: boolean } = {}): Promise<SyncPlan> {
  const server = await monitoringServer(db, serverName);
  const { listServers } = await import("../../state/servers.js");
  const { listTenants } = await import("../../state/tenants.js");
  const [servers, tenants] = await Promise.all([listServers(db), listTenants(db)]);
  const m = ctx.config.monitoring;
  const metrics = await btwMetricsText(db);
  const scraped = servers.filter((s) => privateAddress(s) !== null);
  const credentials: Record<string, string> = {};
  if (opts.dryRun) for (const s of scraped) credentials[s.name] = "[REDACTED]";
  else {
    const { metricsToken } = await import("../server/secrets.js");
    const master = await ctx.master();
    for (const s of scraped) credentials[s.name] = (await metricsToken(db, master, s.id, { create: true }))!;
  }
  const steps = planMonitoringSync({
    targets: renderScrapeTargets({ servers, tenants, domain: ctx.config.domain, tls: ctx.config.proxy.tls, ports: m.ports, cadvisor: m.cadvisor, readinessProbe: m.readinessProbe }),
    rules: renderAlertRules(m),
    prometheusConfig: renderPrometheusConfig({
      monitoring: m,
      targetsDir: MONITORING_LAYOUT.inContainer.targetsDir,
      rulesFile: MONITORING_LAYOUT.inContainer.rulesFile,
      alertmanager: "alertmanager:9093",
      blackbox: "blackbox:9115",
      metricsServers: scraped.map((s) => s.name),
      credentialsDir: MONITORING_LAYOUT.inContainer.secretsDir,
    }),
    btwMetrics: metrics,
    textfileDir: m.textfileDir,
    credentials,
  });
  return { server: server.name, metrics, steps, counts: { servers: servers.length, tenants: tenants.filter((t) => t.status === "active").length } };
}

export async function applySync(ctx: Ctx, db: Queryable, plan: SyncPlan): Promise<void> {
  const { requireServer, sshFor } = await import("../server/context.js");
  await writeLocalMetrics(ctx.home, plan.metrics);
  const ssh = await sshFor(ctx, await requireServer(db, plan.server));
  for (const step of plan.steps) {
    ctx.out.verbose(`${plan.server}: ${step.describe}`);
    await ssh.run(step.argv, step.input === undefined ? {} : { input: step.input, timeoutMs: 60_000 });
  }
}
