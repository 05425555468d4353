-- Watching the fleet (issue 15): what btw itself knows and Prometheus cannot scrape.

-- One row per run of a scheduled job (`btw schedule run <job>`, from the crontab): its
-- outcome, the report it printed, and whether the operator could be told. `schedule status`
-- and btw's metrics read the newest row per job.
create table job_runs (
  id          bigint generated always as identity primary key,
  job         text not null check (job ~ '^[a-z][a-z0-9-]*$'),
  started_at  timestamptz not null default now(),
  finished_at timestamptz,
  -- btw's exit codes: 0 ok, 1 failed, 2 usage, 3 partial; null while running
  exit_code   integer,
  report      text not null default '',
  -- notifications: [{channel, ok, error}]; a failed delivery is shown by `btw status`
  notified    jsonb not null default '[]' check (jsonb_typeof(notified) = 'array')
);
create index job_runs_job on job_runs (job, started_at desc);

-- One row per verify of one backup, passed or failed: "the last verify of acme failed" must
-- survive the command that saw it (backups.verified_at only records successes).
create table backup_verifications (
  id          bigint generated always as identity primary key,
  backup_id   text not null references backups (id) on delete cascade,
  tenant_slug text not null,
  ok          boolean not null,
  detail      text,
  at          timestamptz not null default now()
);
create index backup_verifications_tenant on backup_verifications (tenant_slug, at desc);
