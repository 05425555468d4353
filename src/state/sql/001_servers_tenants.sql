-- Servers (Docker hosts reached over SSH) and the tenants placed on them.

-- updated_at follows every UPDATE without each query having to remember it.
create function btw_touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create table servers (
  id           bigint generated always as identity primary key,
  name         text not null unique
               check (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$' and length(name) <= 63),
  host         text not null check (host <> ''),
  port         integer not null default 22 check (port between 1 and 65535),
  ssh_user     text not null default 'root' check (ssh_user <> ''),
  ssh_key_path text,
  -- in plan weight units: the sum of its live tenants' weights may not pass it
  capacity     integer not null check (capacity >= 0),
  labels       jsonb not null default '{}' check (jsonb_typeof(labels) = 'object'),
  -- new: registered, not bootstrapped; active: takes tenants; draining: keeps its tenants,
  -- takes no new ones; unreachable: the last check failed
  status       text not null default 'new'
               check (status in ('new', 'active', 'draining', 'unreachable')),
  -- engine/compose versions, cpus, memory, disk free… as last seen by `server check`
  facts        jsonb check (facts is null or jsonb_typeof(facts) = 'object'),
  checked_at   timestamptz,
  -- the cloud provider's id when `infra apply` created it; null for hand-added servers
  provider_id  text unique,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now()
);

create trigger servers_touch_updated_at before update on servers
  for each row execute function btw_touch_updated_at();

create table tenants (
  id          bigint generated always as identity primary key,
  -- a DNS label; the full naming rules (reserved words…) live in core
  slug        text not null
              check (slug ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' and length(slug) between 3 and 32),
  plan        text not null check (plan <> ''),
  -- the plan's weight when it was set, so capacity sums need no config
  weight      integer not null default 1 check (weight >= 0),
  -- null only before placement; deleted tenants keep theirs until the server is removed
  server_id   bigint references servers (id) on delete restrict,
  status      text not null default 'provisioning'
              check (status in ('provisioning', 'active', 'suspended', 'failed', 'deleting', 'deleted')),
  subnet      cidr,
  timezone    text not null default 'UTC',
  failed_step text,
  error       text,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  check ((status = 'failed') or (failed_step is null and error is null))
);

create trigger tenants_touch_updated_at before update on tenants
  for each row execute function btw_touch_updated_at();

-- Deleted rows stay as history, so uniqueness holds among the others only: a slug can be
-- reused after `tenant delete`, and a freed subnet can be handed out again.
create unique index tenants_slug_live on tenants (slug) where status <> 'deleted';
create unique index tenants_server_subnet_live on tenants (server_id, subnet) where status <> 'deleted';

-- `tenant list --server x --status y`, server usage sums
create index tenants_server_status on tenants (server_id, status);
create index tenants_status on tenants (status);
