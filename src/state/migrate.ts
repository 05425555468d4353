// Plain numbered .sql migrations (src/state/sql/NNN_name.sql), Graphile-Migrate style:
// one transaction per file, and the btw_migrations row is inserted FIRST in that
// transaction. Two runners racing on the same file then collide on the primary key before
// either runs any DDL: the loser gets a clean unique violation, rolls back and moves on.
// The `migrate` advisory lock makes that race rare: one runner migrates, the other waits
// and then finds nothing to do.

import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { ConflictError, OperationError } from "../errors.js";
import { packageRoot } from "../package-root.js";
import type { Db, Queryable } from "./db.js";
import { isUniqueViolation } from "./pg-errors.js";

export interface Migration {
  /** file name, e.g. 001_servers_tenants.sql */
  name: string;
  sql: string;
  /** sha256 of the file, recorded so an edited applied migration is noticed */
  checksum: string;
}

export interface MigrationStatus {
  /** names, in order */
  applied: string[];
  pending: string[];
  /** applied, but the file has changed since */
  changed: string[];
  /** applied by a newer btw: this one does not know them */
  unknown: string[];
}

const FILE_PATTERN = /^\d{3,}_[a-z0-9_-]+\.sql$/;
const TABLE = "btw_migrations";

/** src/state/sql under the package root: the same from src/ (tsx, vitest) and dist/src/ (tsc does not copy .sql). */
export function defaultSqlDir(): string {
  return path.join(packageRoot(), "src", "state", "sql");
}

export async function loadMigrations(sqlDir: string = defaultSqlDir()): Promise<Migration[]> {
  const names = (await readdir(sqlDir)).filter((n) => FILE_PATTERN.test(n)).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(sqlDir, name), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

async function ensureTable(q: Queryable): Promise<void> {
  await q.query(
    `create table if not exists ${TABLE} (
       name       text primary key,
       checksum   text not null,
       applied_at timestamptz not null default now()
     )`,
  );
}

async function appliedRows(q: Queryable): Promise<Map<string, string>> {
  const exists = await q.query<{ t: string | null }>(`select to_regclass('${TABLE}')::text as t`);
  if (!exists.rows[0]?.t) return new Map();
  const r = await q.query<{ name: string; checksum: string }>(`select name, checksum from ${TABLE} order by name`);
  return new Map(r.rows.map((row) => [row.name, row.checksum]));
}

export async function migrationStatus(q: Queryable, opts: { sqlDir?: string } = {}): Promise<MigrationStatus> {
  const [files, applied] = await Promise.all([loadMigrations(opts.sqlDir), appliedRows(q)]);
  const known = new Set(files.map((f) => f.name));
  return {
    applied: [...applied.keys()],
    pending: files.filter((f) => !applied.has(f.name)).map((f) => f.name),
    changed: files.filter((f) => applied.has(f.name) && applied.get(f.name) !== f.checksum).map((f) => f.name),
    unknown: [...applied.keys()].filter((n) => !known.has(n)),
  };
}

/**
 * Apply one migration in its own transaction. Returns false when another runner applied it
 * first (its row was already there, or appeared while we waited on the primary key).
 */
export async function applyMigration(db: Db, m: Migration): Promise<boolean> {
  try {
    await db.transaction(async (tx) => {
      await tx.query(`insert into ${TABLE} (name, checksum) values ($1, $2)`, [m.name, m.checksum]);
      await tx.query(m.sql);
    });
    return true;
  } catch (e) {
    if (isUniqueViolation(e, `${TABLE}_pkey`)) return false;
    throw new OperationError(`migration ${m.name} failed: ${(e as Error).message}`, {
      code: "migration-failed",
      hint: "nothing of it was applied (it ran in one transaction); fix the cause and run `btw db migrate` again",
      cause: e,
    });
  }
}

export async function migrate(
  db: Db,
  opts: { onApply?: (name: string) => void; sqlDir?: string; lockTimeoutMs?: number } = {},
): Promise<string[]> {
  const files = await loadMigrations(opts.sqlDir);
  // Generous default: a concurrent runner may be in the middle of a long migration.
  const lock = await db.lock({ kind: "migrate", name: "schema" }, { timeoutMs: opts.lockTimeoutMs ?? 60_000 });
  try {
    await ensureTable(db);
    const applied = await appliedRows(db);
    const changed = files.filter((f) => applied.has(f.name) && applied.get(f.name) !== f.checksum);
    if (changed.length > 0) {
      throw new ConflictError(`applied migration(s) changed since they ran: ${changed.map((f) => f.name).join(", ")}`, {
        code: "migration-changed",
        hint: "never edit an applied migration; restore the file and put the change in a new numbered one",
      });
    }
    const done: string[] = [];
    for (const m of files) {
      if (applied.has(m.name)) continue;
      if (await applyMigration(db, m)) {
        done.push(m.name);
        opts.onApply?.(m.name);
      }
    }
    return done;
  } finally {
    await lock.release();
  }
}
