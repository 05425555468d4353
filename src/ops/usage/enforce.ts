// `usage report --enforce`: for each tenant whose collected published-workflow count is over
// its plan's quota, list what its n8n publishes now (under the tenant's lock), pick the
// customer workflows to unpublish (core/usage/enforce.ts: newest first, never WF1–WF3) and
// unpublish them through n8n's API, each in the audit log. Nothing is deleted.
//
// Journaled (kind `usage.enforce`, step `unpublish`): the choice is recorded before n8n is
// touched, and the audit rows are written with the row's finish, in one transaction. A run
// killed in between leaves the row unfinished; the next run records, from it, those of the
// chosen workflows that n8n no longer publishes (the killed run unpublished them) — each
// audited once — and then chooses afresh from what n8n publishes now.

import type { Ctx } from "../../cli/context.js";
import { selectToUnpublish } from "../../core/usage/enforce.js";
import type { Db } from "../../state/db.js";
import { failStep, lastStep, newestSteps, settleStep, startStep } from "../../state/operations.js";
import type { TenantUsage } from "./flags.js";

export interface EnforceResult {
  tenant: string;
  ok: boolean;
  /** null: the plan has no active-workflow quota (visited to record an interrupted run) */
  quota?: number | null;
  published?: number;
  unpublished: Array<{ id: string; name: string }>;
  unmet?: number;
  /** unpublished by an earlier run that was interrupted before recording them: recorded now */
  resumed?: Array<{ id: string; name: string }>;
  skipped?: string;
  error?: string;
}

export function overQuota(tenants: readonly TenantUsage[]): TenantUsage[] {
  return tenants.filter((t) => t.quotas.activeWorkflows !== null && (t.usage["workflows.active"] ?? 0) > t.quotas.activeWorkflows);
}

export async function enforceWorkflowQuota(ctx: Ctx, db: Db, tenants: readonly TenantUsage[], opts: { dryRun: boolean }): Promise<EnforceResult[]> {
  // and, on a real run, every tenant an interrupted run left unrecorded (it may be at its quota now)
  const unfinished = opts.dryRun
    ? new Set<number>()
    : new Set((await newestSteps(db, tenants.map((t) => t.tenantId), [ENFORCE_KIND])).filter((r) => r.step === ENFORCE_STEP && r.status !== "done").map((r) => r.tenantId));
  const over = tenants.filter((t) => overQuota([t]).length > 0 || unfinished.has(t.tenantId));
  if (over.length === 0) return [];
  const { getTenant } = await import("../../state/tenants.js");
  const { currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const { HostPool, withTenantN8n } = await import("../workflows/tenant.js");
  const hosts = new HostPool(ctx);
  const out: EnforceResult[] = [];
  for (const u of over) {
    const quota = u.quotas.activeWorkflows;
    try {
      const tenant = await getTenant(db, u.tenant);
      if (!tenant || tenant.status !== "active") {
        // a suspended tenant runs nothing; a tenant mid-operation is left to that operation
        out.push({ tenant: u.tenant, ok: true, quota, unpublished: [], skipped: `status ${tenant?.status ?? "deleted"}` });
        continue;
      }
      const own = new Set((await currentWorkflowDeployments(db, tenant.id)).map((d) => d.n8nId).filter((x): x is string => x !== null));
      const r = await withTenantN8n(
        ctx,
        db,
        hosts,
        tenant,
        async ({ api }) => {
          const published = (await api.listWorkflows({ active: true })).filter((w) => w.active);
          const resumed = opts.dryRun ? [] : await finishUnfinished(ctx, db, tenant.id, tenant.slug, new Set(published.map((w) => w.id)));
          const pick = selectToUnpublish(
            published.map((w) => ({ id: w.id, name: w.name, createdAt: typeof w.createdAt === "string" ? w.createdAt : undefined })),
            own,
            quota,
          );
          const chosen = pick.unpublish.map((w) => ({ id: w.id, name: w.name }));
          if (opts.dryRun || chosen.length === 0) return { published: published.length, unpublished: chosen, unmet: pick.unmet, ...(resumed.length ? { resumed } : {}) };
          const journal = await startStep(db, { kind: ENFORCE_KIND, step: ENFORCE_STEP, tenantId: tenant.id, serverId: tenant.serverId, details: { quota, published: published.length, workflows: chosen } });
          try {
            for (const w of chosen) await api.deactivateWorkflow(w.id);
          } catch (e) {
            // what n8n unpublished before the failure is recorded by the next run, from this row
            await failStep(db, journal.id, ((e as Error).message ?? String(e)).split("\n")[0]!);
            throw e;
          }
          await record(ctx, db, journal.id, tenant.slug, chosen, { quota, published: published.length });
          return { published: published.length, unpublished: chosen, unmet: pick.unmet, ...(resumed.length ? { resumed } : {}) };
        },
        { lock: !opts.dryRun },
      );
      out.push({ tenant: u.tenant, ok: true, quota, ...r });
    } catch (e) {
      out.push({ tenant: u.tenant, ok: false, quota, unpublished: [], error: ((e as Error).message ?? String(e)).split("\n")[0]! });
    }
  }
  return out;
}

export const ENFORCE_KIND = "usage.enforce";
export const ENFORCE_STEP = "unpublish";
const RULE = "newest customer workflow first; WF1–WF3 kept";

/** The audit rows of what a journal row unpublished, written with its finish: each recorded once. */
async function record(ctx: Ctx, db: Db, journalId: number, slug: string, unpublished: ReadonlyArray<{ id: string; name: string }>, facts: { quota: unknown; published: unknown }): Promise<void> {
  const { appendAudit } = await import("../../state/audit.js");
  await db.transaction(async (tx) => {
    for (const w of unpublished) {
      await appendAudit(tx, { action: "usage.enforce.unpublish", target: slug, details: { workflowId: w.id, workflow: w.name, ...facts, rule: RULE, journal: journalId, command: ctx.commandLine } });
    }
    await settleStep(tx, journalId, { unpublished: unpublished.map((w) => w.id) });
  });
}

/** An earlier run's unfinished row: those of its chosen workflows n8n no longer publishes were unpublished by it. */
async function finishUnfinished(ctx: Ctx, db: Db, tenantId: number, slug: string, publishedNow: ReadonlySet<string>): Promise<Array<{ id: string; name: string }>> {
  const row = await lastStep(db, tenantId, ENFORCE_KIND, ENFORCE_STEP);
  if (!row || row.status === "done") return [];
  const chosen = Array.isArray(row.details.workflows) ? (row.details.workflows as Array<{ id: string; name: string }>) : [];
  const gone = chosen.filter((w) => !publishedNow.has(w.id));
  await record(ctx, db, row.id, slug, gone, { quota: row.details.quota, published: row.details.published });
  return gone;
}
