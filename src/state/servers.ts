// Servers: the Docker hosts tenants are placed on.

import { ConflictError } from "../errors.js";
import type { Queryable } from "./db.js";
import { isForeignKeyViolation, isUniqueViolation } from "./pg-errors.js";

export type ServerStatus = "new" | "active" | "draining" | "unreachable";

/** What `server check` saw. Open-ended: core's host facts plus Docker/Compose versions. */
export interface ServerFacts {
  engineVersion?: string;
  composeVersion?: string;
  cpus?: number;
  memTotalBytes?: number;
  diskFreeBytes?: number;
  [key: string]: unknown;
}

export interface ServerRow {
  id: number;
  name: string;
  host: string;
  port: number;
  sshUser: string;
  sshKeyPath: string | null;
  /** plan weight units */
  capacity: number;
  labels: Record<string, string>;
  status: ServerStatus;
  facts: ServerFacts | null;
  checkedAt: Date | null;
  providerId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ServerWithUsage extends ServerRow {
  /** tenants placed here and not deleted (failed ones still hold their slot) */
  tenantCount: number;
  usedCapacity: number;
  freeCapacity: number;
}

export interface NewServer {
  name: string;
  host: string;
  port?: number;
  sshUser?: string;
  sshKeyPath?: string | null;
  capacity: number;
  labels?: Record<string, string>;
  status?: ServerStatus;
  providerId?: string | null;
}

const COLUMNS = `s.id, s.name, s.host, s.port, s.ssh_user as "sshUser", s.ssh_key_path as "sshKeyPath",
  s.capacity, s.labels, s.status, s.facts, s.checked_at as "checkedAt", s.provider_id as "providerId",
  s.created_at as "createdAt", s.updated_at as "updatedAt"`;

export async function insertServer(q: Queryable, s: NewServer): Promise<ServerRow> {
  try {
    const r = await q.query<ServerRow>(
      `insert into servers as s (name, host, port, ssh_user, ssh_key_path, capacity, labels, status, provider_id)
       values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
       returning ${COLUMNS}`,
      [
        s.name,
        s.host,
        s.port ?? 22,
        s.sshUser ?? "root",
        s.sshKeyPath ?? null,
        s.capacity,
        JSON.stringify(s.labels ?? {}),
        s.status ?? "new",
        s.providerId ?? null,
      ],
    );
    return r.rows[0]!;
  } catch (e) {
    if (isUniqueViolation(e, "servers_name_key")) {
      throw new ConflictError(`server '${s.name}' already exists`, { code: "server-exists", hint: "pick another name, or `btw server show " + s.name + "`" });
    }
    if (isUniqueViolation(e, "servers_provider_id_key")) {
      throw new ConflictError(`a server with provider id ${s.providerId} is already registered`, { code: "server-exists" });
    }
    throw e;
  }
}

export async function getServerByName(q: Queryable, name: string): Promise<ServerRow | null> {
  const r = await q.query<ServerRow>(`select ${COLUMNS} from servers s where s.name = $1`, [name]);
  return r.rows[0] ?? null;
}

export async function getServer(q: Queryable, id: number): Promise<ServerRow | null> {
  const r = await q.query<ServerRow>(`select ${COLUMNS} from servers s where s.id = $1`, [id]);
  return r.rows[0] ?? null;
}

/** Every server (optionally of one status) with its live tenant count and capacity use, by name. */
export async function listServers(q: Queryable, opts: { status?: ServerStatus } = {}): Promise<ServerWithUsage[]> {
  const r = await q.query<ServerWithUsage>(
    `select ${COLUMNS},
            count(t.id)::int as "tenantCount",
            coalesce(sum(t.weight), 0)::int as "usedCapacity",
            (s.capacity - coalesce(sum(t.weight), 0))::int as "freeCapacity"
       from servers s
       left join tenants t on t.server_id = s.id and t.status <> 'deleted'
      where ($1::text is null or s.status = $1)
      group by s.id
      order by s.name`,
    [opts.status ?? null],
  );
  return r.rows;
}

/** Records what `server check` saw; checked_at is the database's now(). */
export async function updateServerFacts(q: Queryable, id: number, facts: ServerFacts): Promise<void> {
  await q.query(`update servers set facts = $2::jsonb, checked_at = now() where id = $1`, [id, JSON.stringify(facts)]);
}

export async function updateServerStatus(q: Queryable, id: number, status: ServerStatus): Promise<void> {
  await q.query(`update servers set status = $2 where id = $1`, [id, status]);
}

export async function updateServerLabels(q: Queryable, id: number, labels: Record<string, string>): Promise<void> {
  await q.query(`update servers set labels = $2::jsonb where id = $1`, [id, JSON.stringify(labels)]);
}

/**
 * Forgets a server. Refuses while live tenants are on it; deleted tenants' history rows
 * let go of it first. Run it inside a transaction so both steps happen together.
 */
export async function removeServer(q: Queryable, id: number): Promise<boolean> {
  const live = await q.query<{ n: number; name: string | null }>(
    `select count(t.id)::int as n, min(s.name) as name
       from servers s left join tenants t on t.server_id = s.id and t.status <> 'deleted'
      where s.id = $1`,
    [id],
  );
  const row = live.rows[0];
  if (!row?.name) return false;
  if (row.n > 0) {
    throw new ConflictError(`server '${row.name}' still holds ${row.n} tenant(s)`, {
      code: "server-not-empty",
      hint: `move them first (\`btw server drain ${row.name}\`, \`btw tenant migrate\`) or delete them`,
    });
  }
  await q.query(`update tenants set server_id = null where server_id = $1 and status = 'deleted'`, [id]);
  try {
    const r = await q.query(`delete from servers where id = $1`, [id]);
    return r.rowCount > 0;
  } catch (e) {
    // a tenant was placed here between our count and the delete
    if (isForeignKeyViolation(e)) throw new ConflictError(`server '${row.name}' still holds tenants`, { code: "server-not-empty" });
    throw e;
  }
}
