-- Master keys (issue 13). Which master key is current for this state, and which were retired
-- by `btw key rotate` (kept read-only in each operator's keyring so older backups open). The
-- keys themselves never reach the database: only their ids. `btw init` against a state whose
-- secrets another key sealed refuses instead of creating a second key.

create table master_keys (
  id         text primary key check (id ~ '^[0-9a-f]{12}$'),
  status     text not null check (status in ('current', 'retired')),
  created_at timestamptz not null default now(),
  retired_at timestamptz,
  check ((status = 'retired') = (retired_at is not null))
);

create unique index master_keys_one_current on master_keys ((true)) where status = 'current';

-- When a secret's VALUE last changed (the age `tenant secrets rotate --due` looks at).
-- updated_at also moves when `key rotate` re-seals the same value under a new key.
alter table tenant_secrets add column value_set_at timestamptz;
update tenant_secrets set value_set_at = updated_at;
alter table tenant_secrets
  alter column value_set_at set not null,
  alter column value_set_at set default now();
