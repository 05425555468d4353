// `usage report --enforce`: for each tenant whose collected published-workflow count is over
// its plan's quota, list what its n8n publishes now (under the tenant's lock), pick the
// customer workflows to unpublish (core/usage/enforce.ts: newest first, never WF1–WF3) and
// unpublish them through n8n's API, each in the audit log.

import type { Ctx } from "../../cli/context.js";
import { selectToUnpublish } from "../../core/usage/enforce.js";
import type { Db } from "../../state/db.js";
import type { TenantUsage } from "./flags.js";

export interface EnforceResult {
  tenant: string;
  ok: boolean;
  quota?: number;
  published?: number;
  unpublished: Array<{ id: string; name: string }>;
  unmet?: number;
  skipped?: string;
  error?: string;
}

export function overQuota(tenants: readonly TenantUsage[]): TenantUsage[] {
  return tenants.filter((t) => t.quotas.activeWorkflows !== null && (t.usage["workflows.active"] ?? 0) > t.quotas.activeWorkflows);
}

export async function enforceWorkflowQuota(ctx: Ctx, db: Db, tenants: readonly TenantUsage[], opts: { dryRun: boolean }): Promise<EnforceResult[]> {
  const over = overQuota(tenants);
  if (over.length === 0) return [];
  const { getTenant } = await import("../../state/tenants.js");
  const { currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const { HostPool, withTenantN8n } = await import("../workflows-tenant.js");
  const hosts = new HostPool(ctx);
  const out: EnforceResult[] = [];
  for (const u of over) {
    const quota = u.quotas.activeWorkflows!;
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
          const pick = selectToUnpublish(
            published.map((w) => ({ id: w.id, name: w.name, createdAt: typeof w.createdAt === "string" ? w.createdAt : undefined })),
            own,
            quota,
          );
          const done: Array<{ id: string; name: string }> = [];
          for (const w of pick.unpublish) {
            if (!opts.dryRun) {
              await api.deactivateWorkflow(w.id);
              await ctx.audit("usage.enforce.unpublish", tenant.slug, { workflowId: w.id, workflow: w.name, quota, published: published.length, rule: "newest customer workflow first; WF1–WF3 kept" });
            }
            done.push({ id: w.id, name: w.name });
          }
          return { published: published.length, unpublished: done, unmet: pick.unmet };
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
