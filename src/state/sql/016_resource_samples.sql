-- What tenants really use (issue 26): one row per tenant per `btw usage collect`, the sum over
-- its running containers as Docker's stats give it — memory's working set (usage minus the
-- inactive file cache, as `docker stats` shows it), the CPUs it used over Docker's sampling
-- second — and the bytes of its volumes. Capacity reads each tenant's p95 of the last days.
create table resource_samples (
  tenant_id    bigint not null references tenants (id) on delete cascade,
  server_id    bigint references servers (id) on delete set null,
  taken_at     timestamptz not null default now(),
  memory_bytes bigint not null check (memory_bytes >= 0),
  cpu_cores    double precision not null check (cpu_cores >= 0),
  disk_bytes   bigint check (disk_bytes >= 0),
  primary key (tenant_id, taken_at)
);

create index resource_samples_taken on resource_samples (taken_at);
