-- What `workflows rollback` needs: the template each deployment pushed. Templates are stored
-- once by content (sha256 of their canonical JSON, placeholders and credential names intact,
-- nothing tenant-specific) — a rollout to 1,000 tenants adds 1,000 small rows, not 1,000
-- copies. A rollback binds the stored template to the tenant again (its current credential
-- ids, workflow ids, timezone and parameters), so it survives a re-created sub-workflow.

create table workflow_templates (
  sha256       text primary key check (sha256 ~ '^[0-9a-f]{64}$'),
  workflow_key text not null check (workflow_key <> ''),
  version      text not null,
  template     jsonb not null check (jsonb_typeof(template) = 'object'),
  created_at   timestamptz not null default now()
);

alter table workflow_deployments
  add column template_sha256 text references workflow_templates (sha256),
  -- how the row came to be: a deploy (incl. tenant create) or a rollback to an older template
  add column origin text not null default 'deploy' check (origin in ('deploy', 'rollback'));
