// btw's own facts, written where Prometheus will read them: a local textfile under
// $BTW_HOME/monitoring (rewritten by every command that changes a fact), and through
// `monitoring sync` into the monitoring server's node exporter textfile directory.

import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Ctx } from "../../cli/context.js";
import { mkdirP, writeFileAtomic } from "../../core/commands/files.js";
import { renderBtwMetrics } from "../../core/monitoring/btw-metrics.js";
import { MONITORING_LAYOUT } from "../../core/monitoring/sync-plan.js";
import { ROLE_LABEL } from "../../core/monitoring/targets.js";
import type { Queryable } from "../../state/db.js";

export function localMetricsFile(home: string): string {
  return join(home, "monitoring", "btw.prom");
}

/** Render btw's facts from the state (three queries). */
export async function btwMetricsText(db: Queryable, now = new Date()): Promise<string> {
  const { tenantFacts } = await import("../../state/monitoring-facts.js");
  const { lastRunPerJob } = await import("../../state/job-runs.js");
  const [tenants, jobs] = await Promise.all([tenantFacts(db), lastRunPerJob(db)]);
  return renderBtwMetrics({ tenants, jobs }, now);
}

/** Write the textfile atomically (a reader never sees half a file). Returns its path. */
export async function writeLocalMetrics(home: string, text: string): Promise<string> {
  const file = localMetricsFile(home);
  await mkdir(join(home, "monitoring"), { recursive: true });
  const tmp = `${file}.tmp.${process.pid}`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
  return file;
}

/**
 * The textfile placed in the monitoring server's node exporter directory, when a server has
 * the monitoring role: without this, the backup times Prometheus sees would only move on
 * `monitoring sync`, and the dead man's switch would fire after every nightly backup.
 */
async function pushToMonitoringServer(ctx: Ctx, db: Queryable, text: string): Promise<void> {
  const { listServers } = await import("../../state/servers.js");
  const mon = (await listServers(db)).filter((s) => s.labels[ROLE_LABEL] === "monitoring");
  if (mon.length !== 1) return; // none (no stack to tell) or ambiguous (`monitoring sync --server` says which)
  const { requireServer, sshFor } = await import("../server/context.js");
  const ssh = await sshFor(ctx, await requireServer(db, mon[0]!.name));
  const dir = ctx.config.monitoring.textfileDir;
  await ssh.run(mkdirP(dir, "0755"), { timeoutMs: 60_000 });
  await ssh.run(writeFileAtomic(`${dir}/${MONITORING_LAYOUT.textfile}`, "0644"), { input: text, timeoutMs: 60_000 });
}

/**
 * Called at the end of commands that change a fact (backup all/tenant/verify, schedule run):
 * the local textfile, and the monitoring server's copy. Never fails the command: the facts
 * are refreshed by the next one, and a stale file is itself alerted on (BtwMetricsStale).
 */
export async function publishFacts(ctx: Ctx): Promise<void> {
  let text: string;
  const db = await ctx.db();
  try {
    text = await btwMetricsText(db);
    await writeLocalMetrics(ctx.home, text);
  } catch (e) {
    return void ctx.out.warn(`btw's metrics were not updated: ${(e as Error).message}`);
  }
  try {
    await pushToMonitoringServer(ctx, db, text);
  } catch (e) {
    ctx.out.warn(`btw's metrics were not placed on the monitoring server (${(e as Error).message}); run \`btw monitoring sync\``);
  }
}
