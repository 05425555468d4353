// Workflow deployments: every push of a workflow template (WF1/WF2/WF3) to a tenant's n8n.
// The newest 'deployed' row per (tenant, workflow) is what runs; older rows are rollback targets.

import type { Queryable } from "./db.js";

export type WorkflowDeploymentStatus = "deployed" | "failed" | "rolled_back";

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
}

export interface NewWorkflowDeployment {
  tenantId: number;
  workflowKey: string;
  version: string;
  n8nId?: string | null;
  checksum: string;
  status?: WorkflowDeploymentStatus;
  error?: string | null;
}

const COLUMNS = `id, tenant_id as "tenantId", workflow_key as "workflowKey", version, n8n_id as "n8nId",
  checksum, status, error, deployed_at as "deployedAt"`;

export async function recordWorkflowDeployment(q: Queryable, d: NewWorkflowDeployment): Promise<WorkflowDeploymentRow> {
  const r = await q.query<WorkflowDeploymentRow>(
    `insert into workflow_deployments (tenant_id, workflow_key, version, n8n_id, checksum, status, error)
     values ($1, $2, $3, $4, $5, $6, $7) returning ${COLUMNS}`,
    [d.tenantId, d.workflowKey, d.version, d.n8nId ?? null, d.checksum, d.status ?? "deployed", d.error ?? null],
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
