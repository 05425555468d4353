-- Versions are state (issue 11): the images each tenant runs. Set at create, changed only by
-- an upgrade, a restore to another version or an explicit command; every rewrite of the
-- tenant's .env uses them. Rows made before this migration have nulls until the tenant's
-- next .env rewrite records the images its stack then gets.
alter table tenants
  add column n8n_image      text check (n8n_image <> ''),
  add column postgres_image text check (postgres_image <> ''),
  add column redis_image    text check (redis_image <> '');

-- upgrading: an upgrade recreates its n8n (maintenance page, excluded from backups)
alter table tenants drop constraint tenants_status_check;
alter table tenants add constraint tenants_status_check
  check (status in ('provisioning', 'active', 'suspended', 'failed', 'deleting', 'deleted', 'restoring', 'migrating', 'upgrading'));
