-- The identity of this btw state: one uuid, generated once, carried in the labels of
-- everything btw creates on a server (tenant containers, networks, volumes, the proxy,
-- scratch stacks). Two btw states (two operators, a demo and a test suite) sharing a server
-- can then tell their stacks apart, and `tenant create` refuses to adopt or overwrite a
-- stack another state owns. A state restored from a backup keeps its identity.

create table state_identity (
  -- exactly one row
  singleton  boolean primary key default true check (singleton),
  id         uuid not null unique default gen_random_uuid(),
  created_at timestamptz not null default now()
);

insert into state_identity default values;
