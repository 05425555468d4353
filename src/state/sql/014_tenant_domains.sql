-- Custom domains (issue 14, the white-label option): hostnames a tenant's customers point at
-- the platform (a CNAME to <tenant>.<domain> or the edge's addresses). Each is routed to its
-- tenant by the edge proxies (edge mode) and by the tenant server's proxy (both modes). At
-- most one per tenant is n8n's webhook URL; removing it gives WEBHOOK_URL back to
-- <tenant>.<domain>. A hostname belongs to one tenant at a time.
create table tenant_domains (
  id         bigint generated always as identity primary key,
  tenant_id  bigint not null references tenants (id) on delete cascade,
  hostname   text not null unique
             check (hostname ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' and length(hostname) <= 253),
  webhook    boolean not null default false,
  created_at timestamptz not null default now()
);
create index tenant_domains_tenant on tenant_domains (tenant_id);
create unique index tenant_domains_one_webhook on tenant_domains (tenant_id) where webhook;
