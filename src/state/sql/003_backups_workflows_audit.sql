-- Backups, workflow deployments and the audit log.

create table backups (
  -- chosen by the backup code (e.g. acme-20260101T020000Z-3f2a), also the object name stem
  id          text primary key check (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'),
  -- set null when the tenant row goes: a backup outlives its tenant (restore after delete)
  tenant_id   bigint references tenants (id) on delete set null,
  tenant_slug text not null,
  location    text not null,
  size_bytes  bigint check (size_bytes >= 0),
  sha256      text check (sha256 ~ '^[0-9a-f]{64}$'),
  n8n_version text,
  status      text not null default 'running'
              check (status in ('running', 'done', 'failed', 'deleted')),
  error       text,
  manifest    jsonb not null default '{}' check (jsonb_typeof(manifest) = 'object'),
  created_at  timestamptz not null default now(),
  finished_at timestamptz,
  verified_at timestamptz,
  check (status <> 'done' or (size_bytes is not null and sha256 is not null))
);

-- `backup list acme`, retention per tenant
create index backups_tenant on backups (tenant_slug, created_at);

-- History of workflow pushes; the latest 'deployed' row per (tenant, workflow) is current,
-- older ones are what `workflows rollback` goes back to.
create table workflow_deployments (
  id           bigint generated always as identity primary key,
  tenant_id    bigint not null references tenants (id) on delete cascade,
  workflow_key text not null check (workflow_key <> ''),
  version      text not null,
  n8n_id       text,
  checksum     text not null,
  status       text not null default 'deployed' check (status in ('deployed', 'failed', 'rolled_back')),
  error        text,
  deployed_at  timestamptz not null default now()
);

create index workflow_deployments_tenant on workflow_deployments (tenant_id, workflow_key, deployed_at);

-- Who did what from where. Append-only; details/before/after never hold secrets.
create table audit_log (
  id      bigint generated always as identity primary key,
  at      timestamptz not null default now(),
  os_user text not null,
  host    text not null,
  action  text not null check (action <> ''),
  target  text not null default '',
  details jsonb not null default '{}' check (jsonb_typeof(details) = 'object'),
  before  jsonb,
  after   jsonb
);

create index audit_log_at on audit_log (at);
create index audit_log_target on audit_log (target, at);
