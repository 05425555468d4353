-- Usage for billing (issue 16): one row per (period, tenant, metric), written by
-- `btw usage collect` (idempotent: a re-run replaces the period's values). The billing product
-- reads this table; its columns are a contract (see README "Usage and billing").
create table usage (
  -- calendar month, UTC: the first day of the month
  period       date not null check (extract(day from period) = 1),
  tenant_id    bigint not null references tenants (id) on delete cascade,
  -- denormalised so the rows read on their own after a slug is reused
  tenant_slug  text not null,
  plan         text not null,
  -- executions.success, executions.error, executions.other, executions.total,
  -- workflows.active, articles.published
  metric       text not null check (metric ~ '^[a-z]+(\.[a-z]+)?$'),
  value        bigint not null check (value >= 0),
  collected_at timestamptz not null default now(),
  primary key (period, tenant_id, metric)
);

create index usage_tenant on usage (tenant_slug, period);
