// Commands that change the fleet (tenants created, deleted, suspended, resumed, migrated;
// servers added, removed) refresh the monitoring server's targets on their way out. Best
// effort: the change itself succeeded, so a failure here is a warning naming the command
// that finishes the job — never the command's failure.

import type { Ctx } from "../../cli/context.js";
import { ROLE_LABEL } from "../../core/monitoring/targets.js";

export async function refreshMonitoring(ctx: Ctx): Promise<void> {
  try {
    const db = await ctx.db();
    const { listServers } = await import("../../state/servers.js");
    // Without a server in the monitoring role there is no stack to tell (labs, one-box set-ups).
    if (!(await listServers(db)).some((s) => s.labels[ROLE_LABEL] === "monitoring")) return;
    const { applySync, planSync } = await import("./sync.js");
    await applySync(ctx, db, await planSync(ctx, db));
  } catch (e) {
    ctx.out.warn(`the monitoring server's targets were not refreshed (${(e as Error).message}); run \`btw monitoring sync\``);
  }
}
