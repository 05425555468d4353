// `btw monitoring deploy`: the exporters on every server, the stack on the monitoring
// server, then everything `monitoring sync` places. Idempotent: files are rewritten whole
// and `compose up -d` changes only what differs.

import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Ctx } from "../../cli/context.js";
import { alertmanagerSecretSources, renderAlertmanagerConfig } from "../../core/monitoring/alertmanager-config.js";
import { planExportersDeploy, planStackDeploy, type StackAssets } from "../../core/monitoring/deploy-plan.js";
import type { SyncStep } from "../../core/monitoring/sync-plan.js";
import { privateAddress } from "../../core/monitoring/targets.js";
import { ConfigError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";
import type { Queryable } from "../../state/db.js";
import { asset } from "../assets.js";
import { monitoringServer, planSync } from "./sync.js";

export interface DeployPlan {
  server: string;
  perServer: Array<{ server: string; steps: SyncStep[] }>;
  /** servers known only by a public address: nothing is published there */
  skipped: string[];
}

function grafanaAssets(): Record<string, string> {
  const root = join(packageRoot(), "templates", "monitoring", "grafana");
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(root, p)] = asset(join("templates", "monitoring", "grafana", relative(root, p)));
    }
  };
  walk(root);
  return out;
}


export async function planDeploy(ctx: Ctx, db: Queryable, serverName: string | undefined, opts: { revealSecrets: boolean }): Promise<DeployPlan> {
  const mon = await monitoringServer(db, serverName);
  const monAddress = privateAddress(mon);
  if (!monAddress) {
    throw new ConfigError(`${mon.name} has no private address: the monitoring stack is never published on a public one`, {
      code: "monitoring-private-address",
      hint: `register it by its private address, or label it btw-private-ip (infra apply does)`,
    });
  }
  const m = ctx.config.monitoring;
  const n = ctx.config.notifications;
  const need = [...(m.grafana ? [m.grafanaAdminPasswordEnv] : []), ...alertmanagerSecretSources(n).map((s) => s.env)];
  const missing = need.filter((v) => !ctx.env[v]);
  if (missing.length && opts.revealSecrets) {
    throw new ConfigError(`${missing.join(", ")} not set: the monitoring stack needs ${missing.length === 1 ? "it" : "them"}`, {
      code: "monitoring-secrets",
      hint: "export them (or put them in $BTW_HOME/schedule.env for cron) and re-run",
    });
  }
  const secret = (name: string) => (opts.revealSecrets ? ctx.env[name]! : "[REDACTED]");
  const assets: StackAssets = { compose: asset("templates/monitoring/compose.yml"), exporters: asset("templates/monitoring/exporters.yml"), grafana: grafanaAssets() };
  const sync = await planSync(ctx, db, mon.name, { dryRun: !opts.revealSecrets });
  const { listServers } = await import("../../state/servers.js");
  const servers = await listServers(db);
  const stack = planStackDeploy({
    monitoring: m,
    assets,
    bindAddress: monAddress,
    // without Grafana the compose file still wants the variable (it is interpolated whole)
    grafanaAdminPassword: m.grafana ? secret(m.grafanaAdminPasswordEnv) : "unused",
    // the official image (≥ 0.26) reads the webhook URL from a file too
    alertmanagerConfig: renderAlertmanagerConfig({ notifications: n, secretsDir: "/etc/alertmanager/secrets", webhookUrl: { file: true }, timing: m.alertmanager }),
    alertmanagerSecrets: Object.fromEntries(alertmanagerSecretSources(n).map((s) => [s.file, secret(s.env)])),
    syncSteps: sync.steps,
  });
  const reachable = servers.filter((s) => privateAddress(s) !== null);
  return {
    server: mon.name,
    perServer: reachable.map((s) => ({
      server: s.name,
      steps: [...planExportersDeploy(m, assets, privateAddress(s)!), ...(s.name === mon.name ? stack : [])],
    })),
    skipped: servers.filter((s) => privateAddress(s) === null).map((s) => s.name),
  };
}

export async function applyDeploy(ctx: Ctx, db: Queryable, plan: DeployPlan): Promise<Array<{ server: string; ok: boolean; error?: string }>> {
  const { requireServer, sshFor } = await import("../server/context.js");
  return Promise.all(
    plan.perServer.map(async (p) => {
      try {
        const ssh = await sshFor(ctx, await requireServer(db, p.server));
        for (const step of p.steps) {
          ctx.out.verbose(`${p.server}: ${step.describe}`);
          await ssh.run(step.argv, { ...(step.input === undefined ? {} : { input: step.input }), timeoutMs: 15 * 60_000 });
        }
        return { server: p.server, ok: true };
      } catch (e) {
        return { server: p.server, ok: false, error: (e as Error).message };
      }
    }),
  );
}
