// Tenants: one customer's n8n stack on one server. Rows are never deleted by btw — a
// deleted tenant keeps its row with status 'deleted' as history; slug and subnet are unique
// only among the others (partial unique indexes), so both can be reused.

import { ConflictError } from "../errors.js";
import type { Queryable } from "./db.js";
import { isUniqueViolation } from "./pg-errors.js";

export const TENANT_STATUSES = ["provisioning", "active", "suspended", "failed", "deleting", "deleted", "restoring", "migrating", "upgrading"] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export interface TenantRow {
  id: number;
  slug: string;
  plan: string;
  /** the plan's weight when it was set; what the tenant costs its server's capacity */
  weight: number;
  serverId: number | null;
  status: TenantStatus;
  /** e.g. 10.40.3.0/24; unique per server among live tenants */
  subnet: string | null;
  timezone: string;
  /** the images it runs (versions are state); null on rows older than migration 007 */
  n8nImage: string | null;
  postgresImage: string | null;
  redisImage: string | null;
  /** the Docker volume its Postgres runs on; null: the layout's btw-<slug>-pgdata (migration 013) */
  pgdataVolume: string | null;
  /** set only while status is 'failed' */
  failedStep: string | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface TenantListRow extends TenantRow {
  serverName: string | null;
}

export interface NewTenant {
  slug: string;
  plan: string;
  weight?: number;
  serverId?: number | null;
  subnet?: string | null;
  timezone?: string;
  status?: TenantStatus;
  images?: TenantImages;
}

export interface TenantImages {
  n8n: string;
  postgres: string;
  redis: string;
  /**
   * The data volume the Postgres image opens (a new major gets a new one). Absent: the
   * layout's btw-<slug>-pgdata. Travels with the images so every .env rewrite keeps it.
   */
  pgdataVolume?: string;
}

const COLUMNS = `t.id, t.slug, t.plan, t.weight, t.server_id as "serverId", t.status, t.subnet::text as subnet,
  t.timezone, t.n8n_image as "n8nImage", t.postgres_image as "postgresImage", t.redis_image as "redisImage", t.pgdata_volume as "pgdataVolume", t.failed_step as "failedStep", t.error, t.created_at as "createdAt", t.updated_at as "updatedAt"`;

function conflict(e: unknown, slug: string, subnet: string | null | undefined): unknown {
  if (isUniqueViolation(e, "tenants_slug_live")) {
    return new ConflictError(`tenant '${slug}' already exists`, { code: "tenant-exists", hint: `\`btw tenant show ${slug}\`` });
  }
  if (isUniqueViolation(e, "tenants_server_subnet_live")) {
    return new ConflictError(`subnet ${subnet} is already used by another tenant on that server`, { code: "subnet-taken" });
  }
  return e;
}

export async function insertTenant(q: Queryable, t: NewTenant): Promise<TenantRow> {
  try {
    const r = await q.query<TenantRow>(
      `insert into tenants as t (slug, plan, weight, server_id, subnet, timezone, status, n8n_image, postgres_image, redis_image)
       values ($1, $2, $3, $4, $5::cidr, $6, $7, $8, $9, $10)
       returning ${COLUMNS}`,
      [t.slug, t.plan, t.weight ?? 1, t.serverId ?? null, t.subnet ?? null, t.timezone ?? "UTC", t.status ?? "provisioning", t.images?.n8n ?? null, t.images?.postgres ?? null, t.images?.redis ?? null],
    );
    return r.rows[0]!;
  } catch (e) {
    throw conflict(e, t.slug, t.subnet);
  }
}

/** The live (not deleted) tenant with this slug; with includeDeleted, else the latest deleted one. */
export async function getTenant(q: Queryable, slug: string, opts: { includeDeleted?: boolean } = {}): Promise<TenantRow | null> {
  const r = await q.query<TenantRow>(
    `select ${COLUMNS} from tenants t
      where t.slug = $1 and ($2::boolean or t.status <> 'deleted')
      order by (t.status = 'deleted'), t.id desc
      limit 1`,
    [slug, opts.includeDeleted ?? false],
  );
  return r.rows[0] ?? null;
}

export async function getTenantById(q: Queryable, id: number): Promise<TenantRow | null> {
  const r = await q.query<TenantRow>(`select ${COLUMNS} from tenants t where t.id = $1`, [id]);
  return r.rows[0] ?? null;
}

export interface TenantFilter {
  serverId?: number;
  serverName?: string;
  status?: TenantStatus | TenantStatus[];
  /** deleted tenants are left out unless asked for (or named in `status`) */
  includeDeleted?: boolean;
}

/** Tenants by slug with their server's name. */
export async function listTenants(q: Queryable, f: TenantFilter = {}): Promise<TenantListRow[]> {
  const statuses = f.status === undefined ? null : Array.isArray(f.status) ? f.status : [f.status];
  const r = await q.query<TenantListRow>(
    `select ${COLUMNS}, s.name as "serverName"
       from tenants t left join servers s on s.id = t.server_id
      where ($1::bigint is null or t.server_id = $1)
        and ($2::text is null or s.name = $2)
        and ($3::text[] is null or t.status = any ($3::text[]))
        and ($3::text[] is not null or $4::boolean or t.status <> 'deleted')
      order by t.slug, t.id`,
    [f.serverId ?? null, f.serverName ?? null, statuses, f.includeDeleted ?? false],
  );
  return r.rows;
}

export type TenantCounts = Record<TenantStatus, number> & { total: number };

/** How many tenants per status (all servers, or one); total leaves out deleted ones. */
export async function countTenants(q: Queryable, opts: { serverId?: number } = {}): Promise<TenantCounts> {
  const r = await q.query<{ status: TenantStatus; n: number }>(
    `select status, count(*)::int as n from tenants
      where ($1::bigint is null or server_id = $1)
      group by status`,
    [opts.serverId ?? null],
  );
  const counts = Object.fromEntries(TENANT_STATUSES.map((s) => [s, 0])) as TenantCounts;
  counts.total = 0;
  for (const row of r.rows) {
    counts[row.status] = row.n;
    if (row.status !== "deleted") counts.total += row.n;
  }
  return counts;
}

/**
 * Moves a tenant to `status`. 'failed' records the step and a one-line error (never a
 * secret); any other status clears them.
 */
export async function updateTenantStatus(
  q: Queryable,
  id: number,
  status: TenantStatus,
  failure: { failedStep?: string; error?: string } = {},
): Promise<void> {
  const failed = status === "failed";
  await q.query(`update tenants set status = $2, failed_step = $3, error = $4 where id = $1`, [
    id,
    status,
    failed ? (failure.failedStep ?? null) : null,
    failed ? (failure.error ?? null) : null,
  ]);
}

export async function setTenantPlan(q: Queryable, id: number, plan: string, weight: number): Promise<void> {
  await q.query(`update tenants set plan = $2, weight = $3 where id = $1`, [id, plan, weight]);
}

/** Places (or moves) a tenant: server and its subnet there change together. */
export async function assignTenantServer(q: Queryable, id: number, serverId: number, subnet: string): Promise<void> {
  try {
    await q.query(`update tenants set server_id = $2, subnet = $3::cidr where id = $1`, [id, serverId, subnet]);
  } catch (e) {
    throw conflict(e, String(id), subnet);
  }
}

/** Subnets held by live tenants on a server, for allocating the next one. */
export async function usedSubnets(q: Queryable, serverId: number): Promise<string[]> {
  const r = await q.query<{ subnet: string }>(
    `select subnet::text as subnet from tenants
      where server_id = $1 and status <> 'deleted' and subnet is not null
      order by subnet`,
    [serverId],
  );
  return r.rows.map((row) => row.subnet);
}

/** Records the images a tenant runs (create, upgrade, restore to another version). */
export async function setTenantImages(q: Queryable, id: number, images: Partial<TenantImages>): Promise<void> {
  await q.query(
    `update tenants set n8n_image = coalesce($2, n8n_image), postgres_image = coalesce($3, postgres_image), redis_image = coalesce($4, redis_image),
       pgdata_volume = coalesce($5, pgdata_volume) where id = $1`,
    [id, images.n8n ?? null, images.postgres ?? null, images.redis ?? null, images.pgdataVolume ?? null],
  );
}
