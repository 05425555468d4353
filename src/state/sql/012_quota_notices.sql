-- Quota notices (issue 16): one row per (period, tenant, metric, level) the operator was told
-- about, so a tenant at 80 % or 100 % of a plan's quota is notified once per threshold per
-- month. The row is claimed (inserted) before sending — two concurrent runs cannot both send —
-- and released when no channel took the notice, so the next run tries again.
create table quota_notices (
  period      date not null check (extract(day from period) = 1),
  tenant_id   bigint not null references tenants (id) on delete cascade,
  tenant_slug text not null,
  metric      text not null check (metric ~ '^[a-z]+(\.[a-z]+)?$'),
  level       text not null check (level in ('80%', '100%')),
  value       bigint not null check (value >= 0),
  quota       bigint not null check (quota > 0),
  -- [{channel, ok, error?}] of the sending
  deliveries  jsonb not null default '[]'::jsonb,
  notified_at timestamptz not null default now(),
  primary key (period, tenant_id, metric, level)
);
