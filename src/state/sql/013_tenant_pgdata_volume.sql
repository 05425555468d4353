-- A Postgres major upgrade (issue 11) restores into a new data volume: a new major cannot
-- open the old data directory. The volume a tenant's Postgres runs on is state, like its
-- images; the .env's PGDATA_VOLUME comes from here. Null: the layout's btw-<slug>-pgdata
-- (every tenant made before this migration). The old volume stays on the server until
-- `btw upgrade postgres --cleanup`.
alter table tenants
  add column pgdata_volume text check (pgdata_volume ~ '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$');
