// btw's own facts, written where Prometheus will read them: a local textfile under
// $BTW_HOME/monitoring (rewritten by every command that changes a fact), and through
// `monitoring sync` into the monitoring server's node exporter textfile directory.

import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Ctx } from "../../cli/context.js";
import { renderBtwMetrics } from "../../core/monitoring/btw-metrics.js";
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
 * Called at the end of commands that change a fact (backup all/tenant/verify, schedule run).
 * Never fails the command: the facts are refreshed by the next one, and a stale file is
 * itself alerted on (BtwMetricsStale).
 */
export async function publishFacts(ctx: Ctx): Promise<void> {
  try {
    await writeLocalMetrics(ctx.home, await btwMetricsText(await ctx.db()));
  } catch (e) {
    ctx.out.warn(`btw's metrics were not updated: ${(e as Error).message}`);
  }
}
