-- Tenant secrets (ciphertext only) and the operation journal that makes steps resumable.

create table tenant_secrets (
  tenant_id  bigint not null references tenants (id) on delete cascade,
  name       text not null check (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
  -- which master key sealed it (for rotation); never the key itself
  key_id     text not null,
  -- AES-256-GCM envelope as produced by src/secrets; plaintext never reaches the database
  ciphertext bytea not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, name)
);

create trigger tenant_secrets_touch_updated_at before update on tenant_secrets
  for each row execute function btw_touch_updated_at();

-- One row per step of a multi-step job (tenant.create: place, render, ship, …). A crashed
-- run resumes by skipping the steps that have a 'done' row.
create table operations (
  id          bigint generated always as identity primary key,
  tenant_id   bigint references tenants (id) on delete set null,
  server_id   bigint references servers (id) on delete set null,
  kind        text not null check (kind <> ''),
  step        text not null check (step <> ''),
  status      text not null default 'running' check (status in ('running', 'done', 'failed')),
  error       text,
  details     jsonb not null default '{}' check (jsonb_typeof(details) = 'object'),
  started_at  timestamptz not null default now(),
  finished_at timestamptz,
  check ((status = 'running') = (finished_at is null)),
  check (status = 'failed' or error is null)
);

create index operations_tenant on operations (tenant_id, kind, started_at);
create index operations_server on operations (server_id, started_at) where server_id is not null;
-- `doctor` looks for steps left running by a crashed btw
create index operations_running on operations (started_at) where status = 'running';
