import type { Ctx } from "../../../cli/context.js";
import { UsageError } from "../../../errors.js";
import type { Db } from "../../../state/db.js";
import type { ServerRow } from "../../../state/servers.js";
import type { TenantRow } from "../../../state/tenants.js";
import { requireTenant, tenantServer } from "../../tenant-context.js";
import { isolationInPlace } from "../../../core/server/isolation-check.js";
import { finishRollbackHint, migrationStateOf } from "./journal.js";

// What `tenant migrate --to` checks before anything changes (`--dry-run` prints its findings).

export interface MigratePreflight {
  tenant: TenantRow;
  source: ServerRow;
  target: ServerRow;
  problems: string[];
}

export async function preflightMigrate(ctx: Ctx, db: Db, slug: string, to: string): Promise<MigratePreflight> {
  const tenant = await requireTenant(db, slug);
  const source = await tenantServer(db, tenant);
  const { requireServer } = await import("../../server/context.js");
  const target = await requireServer(db, to);
  const problems: string[] = [];
  if (tenant.status !== "active" && tenant.status !== "suspended") problems.push(`tenant ${slug} is ${tenant.status}`);
  if (target.id === source.id) throw new UsageError(`tenant ${slug} is already on ${to}`);
  if (target.status !== "active") problems.push(`server ${to} is ${target.status}`);
  else if (!isolationInPlace(target.facts)) problems.push(`server ${to}'s tenant isolation rules are not in force (or were never checked): \`btw server isolate ${to}\` first`);
  const { listServers } = await import("../../../state/servers.js");
  const usage = (await listServers(db)).find((s) => s.id === target.id)!;
  if (usage.freeCapacity < tenant.weight) problems.push(`server ${to} has ${usage.freeCapacity} capacity units free, ${slug} needs ${tenant.weight}`);
  else {
    const plan = ctx.config.plans[tenant.plan];
    const { resourceShortage } = await import("../placement.js");
    const short = plan ? await resourceShortage(ctx, db, target, tenant.plan, plan) : null;
    if (short) problems.push(short);
  }
  const state = await migrationStateOf(db, tenant);
  if (state.kind === "source-kept") problems.push(`the previous migration of ${slug} still keeps its source stack: \`btw tenant migrate ${slug} --cleanup\` (or --rollback) first`);
  if (state.kind === "rollback-unfinished") problems.push(`the rollback of ${slug}'s migration to ${state.migration.details.to} did not finish (${slug} runs on ${state.migration.details.from} again; its stack on ${state.migration.details.to} is left over): ${finishRollbackHint(slug)} first`);
  return { tenant, source, target, problems };
}
