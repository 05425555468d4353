// Workflow deployments: every push of a workflow template (WF1/WF2/WF3) to a tenant's n8n.
// The newest 'deployed' row per (tenant, workflow) is what runs; older rows are rollback targets.

import type { Queryable } from "./db.js";

export type WorkflowDeploymentStatus = "deployed" | "failed" | "rolled_back";
export type WorkflowDeploymentOrigin = "deploy" | "rollback" | "restore";

export interface WorkflowDeploymentRow {
  id: number;
  tenantId: number;
  /** manifest key, e.g. "wf1" */
  workflowKey: string;
  version: string;
  /** the workflow's id inside that tenant's n8n */
  n8nId: string | null;
  checksum: string;
  status: WorkflowDeploymentStatus;
  error: string | null;
  deployedAt: Date;
  /** the template pushed (workflow_templates), null for rows recorded before btw kept them */
  templateSha256: string | null;
  origin: WorkflowDeploymentOrigin;
}

export interface NewWorkflowDeployment {
  tenantId: number;
  workflowKey: string;
  version: string;
  n8nId?: string | null;
  checksum: string;
  status?: WorkflowDeploymentStatus;
  error?: string | null;
  templateSha256?: string | null;
  origin?: WorkflowDeploymentOrigin;
}

const COLUMNS = `id, tenant_id as "tenantId", workflow_key as "workflowKey", version, n8n_id as "n8nId",
  checksum, status, error, deployed_at as "deployedAt", template_sha256 as "templateSha256", origin`;

export async function recordWorkflowDeployment(q: Queryable, d: NewWorkflowDeployment): Promise<WorkflowDeploymentRow> {
  const r = await q.query<WorkflowDeploymentRow>(
    `insert into workflow_deployments (tenant_id, workflow_key, version, n8n_id, checksum, status, error, template_sha256, origin)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning ${COLUMNS}`,
    [d.tenantId, d.workflowKey, d.version, d.n8nId ?? null, d.checksum, d.status ?? "deployed", d.error ?? null, d.templateSha256 ?? null, d.origin ?? "deploy"],
  );
  return r.rows[0]!;
}

export async function setWorkflowDeploymentStatus(q: Queryable, id: number, status: WorkflowDeploymentStatus): Promise<void> {
  await q.query(`update workflow_deployments set status = $2 where id = $1`, [id, status]);
}

/** History, newest first. */
export async function listWorkflowDeployments(
  q: Queryable,
  f: { tenantId?: number; workflowKey?: string; limit?: number } = {},
): Promise<WorkflowDeploymentRow[]> {
  const r = await q.query<WorkflowDeploymentRow>(
    `select ${COLUMNS} from workflow_deployments
      where ($1::bigint is null or tenant_id = $1) and ($2::text is null or workflow_key = $2)
      order by deployed_at desc, id desc
      limit $3`,
    [f.tenantId ?? null, f.workflowKey ?? null, f.limit ?? null],
  );
  return r.rows;
}

/** What runs on a tenant now: the newest 'deployed' row of each workflow, by key. */
export async function currentWorkflowDeployments(q: Queryable, tenantId: number): Promise<WorkflowDeploymentRow[]> {
  const r = await q.query<WorkflowDeploymentRow>(
    `select distinct on (workflow_key) ${COLUMNS} from workflow_deployments
      where tenant_id = $1 and status = 'deployed'
      order by workflow_key, deployed_at desc, id desc`,
    [tenantId],
  );
  return r.rows;
}

/** The current rows of many tenants at once (a rollout's report), by tenant id. */
export async function currentWorkflowDeploymentsOf(q: Queryable, tenantIds: readonly number[]): Promise<Map<number, WorkflowDeploymentRow[]>> {
  const out = new Map<number, WorkflowDeploymentRow[]>(tenantIds.map((id) => [id, []]));
  if (tenantIds.length === 0) return out;
  const r = await q.query<WorkflowDeploymentRow>(
    `select distinct on (tenant_id, workflow_key) ${COLUMNS} from workflow_deployments
      where tenant_id = any ($1::bigint[]) and status = 'deployed'
      order by tenant_id, workflow_key, deployed_at desc, id desc`,
    [[...tenantIds]],
  );
  for (const row of r.rows) out.get(row.tenantId)?.push(row);
  return out;
}

// ---- templates (what rollback re-binds) ----

export interface WorkflowTemplateRow {
  sha256: string;
  workflowKey: string;
  version: string;
  /** the unbound template as an API payload (placeholders, credential names) */
  template: Record<string, unknown>;
  createdAt: Date;
}

/** Stores a template once by content; storing it again is a no-op. */
export async function storeWorkflowTemplate(q: Queryable, t: { sha256: string; workflowKey: string; version: string; template: unknown }): Promise<void> {
  await q.query(
    `insert into workflow_templates (sha256, workflow_key, version, template) values ($1, $2, $3, $4::jsonb)
     on conflict (sha256) do nothing`,
    [t.sha256, t.workflowKey, t.version, JSON.stringify(t.template)],
  );
}

export async function getWorkflowTemplate(q: Queryable, sha256: string): Promise<WorkflowTemplateRow | null> {
  const r = await q.query<WorkflowTemplateRow>(
    `select sha256, workflow_key as "workflowKey", version, template, created_at as "createdAt" from workflow_templates where sha256 = $1`,
    [sha256],
  );
  return r.rows[0] ?? null;
}
