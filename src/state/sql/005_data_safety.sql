-- Data safety (issue 10): statuses that say a tenant is mid-mutation, why a backup was
-- taken, and a completed backup that can only be completed once.

-- restoring: a restore in place is replacing the data (maintenance page, excluded from
-- backups); migrating: a migration moves the stack to another server (same).
alter table tenants drop constraint tenants_status_check;
alter table tenants add constraint tenants_status_check
  check (status in ('provisioning', 'active', 'suspended', 'failed', 'deleting', 'deleted', 'restoring', 'migrating'));

-- Why a backup exists. `restore` without --backup picks the newest backup that is not a
-- safety copy taken by a restore itself; `prune` treats final backups of purged tenants by
-- backup.retention.purgedDays.
alter table backups add column reason text not null default 'manual'
  check (reason in ('manual', 'scheduled', 'pre-restore', 'pre-migrate', 'pre-upgrade', 'final'));

create index backups_status on backups (status, tenant_slug);

-- After a restore the state says what the restored n8n runs: the deployments the backup
-- recorded are written again, marked as coming from the restore.
alter table workflow_deployments drop constraint workflow_deployments_origin_check;
alter table workflow_deployments add constraint workflow_deployments_origin_check
  check (origin in ('deploy', 'rollback', 'restore'));
