import type { Ctx } from "../../../cli/context.js";
import { cleanupDecision, mayRemoveKeptStack } from "../../../core/tenant/migration-journal.js";
import { ConflictError } from "../../../errors.js";
import type { Db } from "../../../state/db.js";
import { openServerSession } from "../../backup/tenant.js";
import { lockTenant, requireTenant } from "../../tenant-context.js";
import { finishRollbackHint, MIGRATE_KIND, migrationStateOf, type MigrationDetails, type Step } from "./journal.js";
import { removeStack } from "./servers.js";

// `tenant migrate --cleanup` and a purge's last step: the source stack a migration kept for
// `--rollback` removed, never on the server the tenant's row says it runs on.

/**
 * The refusal of a removal that would hit the stack a tenant runs on: a rollback stopped after
 * its switch left the tenant live on its migration's source.
 */
export function unfinishedRollbackError(slug: string, m: MigrationDetails, what: string): ConflictError {
  return new ConflictError(`cannot ${what}: the rollback of ${slug}'s migration to ${m.to} did not finish; ${slug} runs on ${m.from} again (nothing was removed)`, {
    code: "rollback-unfinished",
    hint: `${finishRollbackHint(slug)}: it routes ${slug} on ${m.from} and removes the stack left on ${m.to}`,
  });
}

function liveStackError(slug: string, server: string, what: string): ConflictError {
  return new ConflictError(`refusing to ${what}: ${slug} runs on ${server} (its row in the state) — that stack is live, not a kept source (nothing was removed)`, {
    code: "stack-is-live",
    hint: `\`btw tenant show ${slug}\` shows where it runs and its migration journal`,
  });
}

/**
 * A purge's last step for a migrated tenant: the source stack kept on the old server goes
 * too. Call under the tenant's lock; refused when the tenant's row says it runs there.
 */
export async function removeKeptSource(ctx: Ctx, db: Db, slug: string, serverId: number): Promise<void> {
  const { getServer } = await import("../../../state/servers.js");
  const source = await getServer(db, serverId);
  // the tenant's row now, not the journal's word: the stack it runs on is no kept source
  const tenant = await requireTenant(db, slug);
  if (!mayRemoveKeptStack(tenant.serverId, serverId)) throw liveStackError(slug, source?.name ?? `server ${serverId}`, `remove ${slug}'s kept migration source`);
  if (!source) return;
  await removeStack(await openServerSession(ctx, source), slug);
}

export async function cleanupMigration(ctx: Ctx, db: Db, slug: string, step: Step): Promise<{ tenant: string; removedFrom: string }> {
  const lock = await lockTenant(db, slug);
  try {
    // read under the lock: the tenant's row decides where it runs, whatever the journal says
    const tenant = await requireTenant(db, slug);
    const state = await migrationStateOf(db, tenant);
    const decision = cleanupDecision(state, tenant.serverId);
    const { getServer } = await import("../../../state/servers.js");
    const what = `clean up ${slug}'s migration`;
    if (decision.action === "refuse") {
      if (decision.reason === "rollback-unfinished") throw unfinishedRollbackError(slug, decision.migration.details, what);
      if (decision.reason === "stack-is-live") throw liveStackError(slug, (await getServer(db, decision.serverId))?.name ?? `server ${decision.serverId}`, what);
      throw new ConflictError(`tenant ${slug} has no migration whose source is kept`, { code: "no-migration" });
    }
    const m = decision.migration;
    const source = await getServer(db, decision.serverId);
    if (!source) throw new ConflictError(`the source server of ${slug}'s migration is no longer registered`, { code: "migrate-source-gone" });
    const src = await openServerSession(ctx, source);
    await lock.check();
    const { startStep, finishStep } = await import("../../../state/operations.js");
    const op = await startStep(db, { kind: MIGRATE_KIND, step: "cleanup", tenantId: tenant.id, serverId: source.id, details: { ...m.details } });
    step(`remove ${slug}'s kept stack on ${source.name}: volumes, networks, files`);
    await removeStack(src, slug);
    await finishStep(db, op.id);
    await ctx.audit("tenant.migrate.cleanup", slug, { server: source.name });
    return { tenant: slug, removedFrom: source.name };
  } finally {
    await lock.release();
  }
}
