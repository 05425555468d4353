// Runs of scheduled jobs (`btw schedule run <job>`): started, finished with btw's exit code
// and the report the job printed, and the outcome of telling the operator about it.

import type { Queryable } from "./db.js";

export interface Delivery {
  channel: string;
  ok: boolean;
  error?: string;
}

export interface JobRunRow {
  id: number;
  job: string;
  startedAt: Date;
  finishedAt: Date | null;
  exitCode: number | null;
  report: string;
  notified: Delivery[];
}

const COLUMNS = `id, job, started_at as "startedAt", finished_at as "finishedAt", exit_code as "exitCode", report, notified`;

export async function startJobRun(q: Queryable, job: string): Promise<JobRunRow> {
  const r = await q.query<JobRunRow>(`insert into job_runs (job) values ($1) returning ${COLUMNS}`, [job]);
  return r.rows[0]!;
}

export async function finishJobRun(q: Queryable, id: number, exitCode: number, report: string): Promise<void> {
  await q.query(`update job_runs set finished_at = now(), exit_code = $2, report = $3 where id = $1`, [id, exitCode, report]);
}

export async function recordDeliveries(q: Queryable, id: number, deliveries: readonly Delivery[]): Promise<void> {
  await q.query(`update job_runs set notified = $2::jsonb where id = $1`, [id, JSON.stringify(deliveries)]);
}

/** The newest run of each job. */
export async function lastRunPerJob(q: Queryable): Promise<JobRunRow[]> {
  const r = await q.query<JobRunRow>(
    `select distinct on (job) ${COLUMNS} from job_runs order by job, started_at desc, id desc`,
  );
  return r.rows;
}

/** Runs whose notification could not be delivered, newest first (shown by `btw status`). */
export async function undeliveredNotifications(q: Queryable, limit = 10): Promise<JobRunRow[]> {
  const r = await q.query<JobRunRow>(
    `select ${COLUMNS} from job_runs where notified @> '[{"ok": false}]'::jsonb order by started_at desc limit $1`,
    [limit],
  );
  return r.rows;
}
