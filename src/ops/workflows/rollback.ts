import type { Ctx } from "../../cli/context.js";
import { planRollback, type RollbackPlan } from "../../core/workflows/index.js";
import { ConflictError, OperationError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { TenantRow } from "../../state/tenants.js";
import { articlesPerWeekOf, existingCredentialIds, liveChecksum, recordDeployed, scheduleFor, tenantParameters, verifyTenantWorkflows } from "./deploy.js";
import type { WorkflowSource } from "./source.js";
import { HostPool, withTenantN8n } from "./tenant.js";

// `workflows rollback --tenant T`: each workflow back to the template it ran before its
// current one (core/workflows/rollback.ts picks it from the history), bound to the tenant
// again, pushed in place (same n8n ids, sub-workflows first), published, recorded with
// origin 'rollback'; the rows rolled back over are marked rolled_back.

export async function rollbackPlan(db: Db, tenant: TenantRow, source: WorkflowSource, only?: string[]): Promise<RollbackPlan> {
  const { listWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const history = await listWorkflowDeployments(db, { tenantId: tenant.id });
  return planRollback(history, source.manifest.workflows, only);
}

export interface RollbackResult {
  tenant: string;
  steps: { workflow: string; n8nId: string; from: string; to: string }[];
  unchanged: { key: string; reason: string }[];
}

export async function rollbackTenant(ctx: Ctx, db: Db, tenant: TenantRow, source: WorkflowSource, opts: { only?: string[]; force?: boolean } = {}): Promise<RollbackResult> {
  const { getWorkflowTemplate, currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const nothing = (plan: RollbackPlan) =>
    new ConflictError(`${tenant.slug}: nothing to roll back (${plan.unchanged.map((u) => `${u.key}: ${u.reason}`).join("; ")})`, {
      code: "nothing-to-roll-back",
      hint: `\`btw workflows status --tenant ${tenant.slug}\` shows what is deployed`,
    });
  // from the state alone first: no connection needed to say there is nothing to do
  const first = await rollbackPlan(db, tenant, source, opts.only);
  if (first.steps.length === 0) throw nothing(first);
  return withTenantN8n(
    ctx,
    db,
    new HostPool(ctx),
    tenant,
    async ({ api, secrets }) => {
      // planned under the lock: the history cannot move underneath
      const plan = await rollbackPlan(db, tenant, source, opts.only);
      if (plan.steps.length === 0) throw nothing(plan);
      const current = new Map((await currentWorkflowDeployments(db, tenant.id)).map((r) => [r.workflowKey, r]));
      // An edit made in the tenant's editor would be lost silently: refuse unless forced.
      const drifted: string[] = [];
      for (const s of plan.steps) {
        const live = await api.findWorkflow(s.n8nId);
        if (!live) throw new OperationError(`${tenant.slug}: ${s.key} (${s.n8nId}) no longer exists in n8n`, { code: "workflow-missing", hint: `\`btw workflows deploy --tenant ${tenant.slug}\` re-creates it` });
        if (liveChecksum(live) !== current.get(s.key)?.checksum) drifted.push(s.key);
      }
      if (drifted.length && !opts.force) {
        throw new OperationError(`${tenant.slug}: ${drifted.join(", ")} changed in n8n since deployed; a rollback would overwrite those edits`, {
          code: "workflow-drift",
          hint: `\`btw workflows diff --tenant ${tenant.slug}\` shows them; add --force to roll back anyway`,
        });
      }
      const credentialIds = await existingCredentialIds(api, source.manifest);
      const ids = Object.fromEntries([...current.values()].filter((r) => r.n8nId).map((r) => [r.workflowKey, r.n8nId!]));
      const { bindTemplate } = await import("../../core/workflows/index.js");
      const done: RollbackResult["steps"] = [];
      for (const s of plan.steps) {
        const stored = await getWorkflowTemplate(db, s.templateSha256);
        if (!stored) throw new OperationError(`${tenant.slug}: the template of ${s.key} ${s.toVersion} is missing from the state`, { code: "workflow-template-missing" });
        const payload = bindTemplate(stored.template, { credentialIds, workflowIds: ids, timezone: tenant.timezone, parameters: tenantParameters(secrets), ...scheduleFor(source.manifest, s.key, articlesPerWeekOf(ctx, tenant)) });
        await api.updateWorkflow(s.n8nId, payload);
        await api.activateWorkflow(s.n8nId);
        const now = await api.getWorkflow(s.n8nId);
        await recordDeployed(db, tenant, { key: s.key, version: s.toVersion, n8nId: s.n8nId, liveChecksum: liveChecksum(now), template: stored.template, origin: "rollback", supersede: s.supersededRowIds });
        done.push({ workflow: s.key, n8nId: s.n8nId, from: s.fromVersion, to: s.toVersion });
      }
      const problems = await verifyTenantWorkflows(db, tenant, api, source.manifest);
      if (problems.length) throw new OperationError(`${tenant.slug} is not healthy after the rollback: ${problems.join("; ")}`, { code: "workflow-unhealthy" });
      await ctx.audit("workflows.rollback", tenant.slug, { steps: done.map((d) => ({ workflow: d.workflow, from: d.from, to: d.to })), forced: drifted.length > 0 });
      return { tenant: tenant.slug, steps: done, unchanged: plan.unchanged };
    },
    { lock: true },
  );
}
