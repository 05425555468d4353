-- The tenant's `content` schema, in the tenant's own PostgreSQL (the database its n8n uses).
-- Applied at provisioning and again on every upgrade: idempotent, creates only what is missing.
-- Written by WF1 (keywords), WF2 (clusters), WF3 (articles); seeds come from the customer.
--
--   seeds ──< keywords >── clusters ──< articles
--
-- A "batch" is one WF1 run (its n8n execution id): WF2 clusters the keywords of one batch.

create schema if not exists content;

-- The customer's seed keywords; WF1 expands every active one each week.
create table if not exists content.seeds (
  id         bigint generated always as identity primary key,
  keyword    text not null check (btrim(keyword) <> ''),
  language   text not null default 'en' check (language ~ '^[a-z]{2}$'),
  active     boolean not null default true,
  created_at timestamptz not null default now(),
  unique (keyword, language)
);

-- Groups of ~3 related keywords; each one becomes one article (WF3 takes the oldest unused).
create table if not exists content.clusters (
  id          bigint generated always as identity primary key,
  batch       text not null,
  seed_id     bigint references content.seeds (id) on delete set null,
  position    integer not null check (position > 0),
  label       text not null,
  keywords    text[] not null check (cardinality(keywords) between 1 and 10),
  used        boolean not null default false,
  used_at     timestamptz,
  created_at  timestamptz not null default now(),
  unique (batch, position),
  check (used = (used_at is not null))
);

create index if not exists clusters_unused on content.clusters (created_at, id) where not used;

-- WF1's enriched variations. cluster_id is set by WF2 (null = not picked for a cluster).
create table if not exists content.keywords (
  id          bigint generated always as identity primary key,
  batch       text not null,
  seed_id     bigint not null references content.seeds (id) on delete cascade,
  keyword     text not null check (btrim(keyword) <> ''),
  intent      text not null check (intent in ('informational', 'commercial', 'transactional', 'navigational')),
  difficulty  smallint not null check (difficulty between 0 and 100),
  language    text not null check (language ~ '^[a-z]{2}$'),
  word_count  smallint not null check (word_count > 0),
  cluster_id  bigint references content.clusters (id) on delete set null,
  created_at  timestamptz not null default now(),
  unique (batch, seed_id, keyword)
);

create index if not exists keywords_batch on content.keywords (batch);
create index if not exists keywords_cluster on content.keywords (cluster_id) where cluster_id is not null;

-- One published article per cluster.
create table if not exists content.articles (
  id               bigint generated always as identity primary key,
  cluster_id       bigint not null unique references content.clusters (id) on delete cascade,
  title            text not null,
  slug             text not null,
  meta_description text not null,
  outline          jsonb not null default '[]'::jsonb,
  body_html        text not null,
  image_media_id   bigint,
  image_url        text,
  wp_post_id       bigint,
  url              text,
  created_at       timestamptz not null default now(),
  published_at     timestamptz
);
