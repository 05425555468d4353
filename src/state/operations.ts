// The operation journal: one row per step of a multi-step job. A step is started (running),
// then finished (done) or failed; a re-run skips the steps that are done, which is what
// makes `tenant create` resumable after a crash.

import type { Queryable } from "./db.js";

export type OperationStatus = "running" | "done" | "failed";

export interface OperationRow {
  id: number;
  tenantId: number | null;
  serverId: number | null;
  /** the job, e.g. "tenant.create" */
  kind: string;
  /** the step within it, e.g. "ship" */
  step: string;
  status: OperationStatus;
  error: string | null;
  details: Record<string, unknown>;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface StartStep {
  kind: string;
  step: string;
  tenantId?: number | null;
  serverId?: number | null;
  /** no secrets */
  details?: Record<string, unknown>;
}

const COLUMNS = `id, tenant_id as "tenantId", server_id as "serverId", kind, step, status, error, details,
  started_at as "startedAt", finished_at as "finishedAt"`;

export async function startStep(q: Queryable, s: StartStep): Promise<OperationRow> {
  const r = await q.query<OperationRow>(
    `insert into operations (tenant_id, server_id, kind, step, details) values ($1, $2, $3, $4, $5::jsonb)
     returning ${COLUMNS}`,
    [s.tenantId ?? null, s.serverId ?? null, s.kind, s.step, JSON.stringify(s.details ?? {})],
  );
  return r.rows[0]!;
}

async function finish(q: Queryable, id: number, status: "done" | "failed", error: string | null, details?: Record<string, unknown>): Promise<void> {
  const r = await q.query(
    `update operations set status = $2, error = $3, finished_at = now(), details = details || $4::jsonb
      where id = $1 and status = 'running'`,
    [id, status, error, JSON.stringify(details ?? {})],
  );
  // Finishing twice, or a step that was never started, is a bug in the caller.
  if (r.rowCount === 0) throw new Error(`operation ${id} is not running`);
}

/** Marks a running step done; `details` are merged into the ones it started with. */
export function finishStep(q: Queryable, id: number, details?: Record<string, unknown>): Promise<void> {
  return finish(q, id, "done", null, details);
}

/** Marks a running or failed step done (a later run finished what it left); a done one stays as it is. */
export async function settleStep(q: Queryable, id: number, details?: Record<string, unknown>): Promise<void> {
  await q.query(`update operations set status = 'done', error = null, finished_at = now(), details = details || $2::jsonb where id = $1 and status <> 'done'`, [
    id,
    JSON.stringify(details ?? {}),
  ]);
}

/** Marks a running step failed with a one-line error (never a secret). */
export function failStep(q: Queryable, id: number, error: string, details?: Record<string, unknown>): Promise<void> {
  return finish(q, id, "failed", error, details);
}

export interface OperationFilter {
  tenantId?: number;
  serverId?: number;
  kind?: string;
  status?: OperationStatus;
  /** newest N; default all */
  limit?: number;
}

/** Oldest first (journal order). With `limit`, the newest N, still oldest first. */
export async function listOperations(q: Queryable, f: OperationFilter = {}): Promise<OperationRow[]> {
  const r = await q.query<OperationRow>(
    `select * from (
       select ${COLUMNS} from operations
        where ($1::bigint is null or tenant_id = $1)
          and ($2::bigint is null or server_id = $2)
          and ($3::text is null or kind = $3)
          and ($4::text is null or status = $4)
        order by id desc
        limit $5
     ) newest order by id`,
    [f.tenantId ?? null, f.serverId ?? null, f.kind ?? null, f.status ?? null, f.limit ?? null],
  );
  return r.rows;
}

/** Steps of `kind` for this tenant that have a done row: what a resumed run may skip. */
export async function completedSteps(q: Queryable, tenantId: number, kind: string): Promise<string[]> {
  const r = await q.query<{ step: string }>(
    `select distinct step from operations where tenant_id = $1 and kind = $2 and status = 'done' order by step`,
    [tenantId, kind],
  );
  return r.rows.map((row) => row.step);
}

/** Merges `details` into a running step's (what a resumed run needs to know, e.g. a backup id). */
export async function updateStepDetails(q: Queryable, id: number, details: Record<string, unknown>): Promise<void> {
  await q.query(`update operations set details = details || $2::jsonb where id = $1`, [id, JSON.stringify(details)]);
}

/** The newest step row of `kind`/`step` for this tenant, whatever its status. */
export async function lastStep(q: Queryable, tenantId: number, kind: string, step: string): Promise<OperationRow | null> {
  const r = await q.query<OperationRow>(
    `select ${COLUMNS} from operations where tenant_id = $1 and kind = $2 and step = $3 order by id desc limit 1`,
    [tenantId, kind, step],
  );
  return r.rows[0] ?? null;
}

/**
 * The newest row of every (tenant, kind, step) of these tenants and kinds, in one query: what
 * `btw status` reads to tell what a tenant caught mid-mutation has left unfinished.
 */
export async function newestSteps(q: Queryable, tenantIds: readonly number[], kinds: readonly string[]): Promise<OperationRow[]> {
  if (tenantIds.length === 0 || kinds.length === 0) return [];
  const r = await q.query<OperationRow>(
    `select distinct on (tenant_id, kind, step) ${COLUMNS} from operations
      where tenant_id = any ($1::bigint[]) and kind = any ($2::text[])
      order by tenant_id, kind, step, id desc`,
    [tenantIds, kinds],
  );
  return r.rows;
}
