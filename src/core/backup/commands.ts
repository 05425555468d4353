// Commands a backup or restore runs, as argv arrays (pure; tested by equality). The `exec*`
// ones run inside a container through the Docker API (no shell, no quoting); the `docker*`
// ones run on the server over SSH and are quoted by core/shell.ts.

import { composeBase, tenantProfiles } from "../commands/compose.js";
import { TENANT_DB_NAME, TENANT_DB_USER, tenantLayout } from "../tenant/layout.js";

/** Where n8n keeps its data in the container (the n8ndata volume's mount point). */
export const N8N_DATA_DIR = "/home/node/.n8n";

/**
 * Custom-format dump on stdout, over the local socket. Compression is the dump's main cost:
 * zstd level 1 (PostgreSQL ≥ 16) is several times faster than the default gzip and smaller;
 * older servers get gzip level 1. pg_restore reads either.
 */
export function execPgDump(serverVersionNum: number | null): string[] {
  const compress = serverVersionNum !== null && serverVersionNum >= 160000 ? "--compress=zstd:1" : "--compress=1";
  return ["pg_dump", "--format=custom", compress, "--no-password", "-U", TENANT_DB_USER, "-d", TENANT_DB_NAME];
}

/** n8n's own row counts (table names as in n8n 1.x/2.x without a prefix), after the server's version. */
export const COUNTS_SQL =
  "select current_setting('server_version_num') || ' ' || (select count(*) from workflow_entity) || ' ' || (select count(*) from credentials_entity) || ' ' || (select count(*) from execution_entity)";

export function execPsql(sql: string, database = TENANT_DB_NAME): string[] {
  return ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", TENANT_DB_USER, "-d", database, "-c", sql];
}

/** "170004 12 3 40" → version and counts; null when the output is not four integers. */
export function parseCounts(stdout: string): { serverVersionNum: number; workflows: number; credentials: number; executions: number } | null {
  const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(stdout.trim());
  return m ? { serverVersionNum: Number(m[1]), workflows: Number(m[2]), credentials: Number(m[3]), executions: Number(m[4]) } : null;
}

/**
 * n8n's Bull queue in a queue-mode tenant's Redis (prefix `bull`, queue `jobs`: n8n's
 * defaults) as three integers, one a line: waiting (paused included), active, delayed. The
 * password comes from REDISCLI_AUTH in the container's environment, never argv.
 */
export function execRedisQueueDepth(): string[] {
  const lua = "return {redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3]), redis.call('ZCARD', KEYS[4])}";
  return ["redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", "6379", "EVAL", lua, "4", "bull:jobs:wait", "bull:jobs:paused", "bull:jobs:active", "bull:jobs:delayed"];
}

/** "3\n1\n0\n" → {waiting 3, active 1, delayed 0}; null when it is not three integers. */
export function parseQueueDepth(stdout: string): { waiting: number; active: number; delayed: number } | null {
  const m = /^(\d+)\s+(\d+)\s+(\d+)$/.exec(stdout.trim());
  return m ? { waiting: Number(m[1]), active: Number(m[2]), delayed: Number(m[3]) } : null;
}

/** Prints n8n's package.json (found from the `n8n` on PATH): works in the official and the lab images. */
export function execN8nPackageJson(): string[] {
  return ["sh", "-c", 'cat "$(dirname "$(readlink -f "$(command -v n8n)")")/../package.json"'];
}

export function parseN8nVersion(stdout: string): string | null {
  try {
    const v = (JSON.parse(stdout) as { version?: unknown }).version;
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
}

/** Drop and re-create the tenant's database (from the maintenance database). */
export function execRecreateDatabase(): string[] {
  return [
    "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", TENANT_DB_USER, "-d", "postgres",
    "-c", `drop database if exists ${TENANT_DB_NAME} with (force)`,
    "-c", `create database ${TENANT_DB_NAME} owner ${TENANT_DB_USER}`,
  ];
}

/** pg_restore of a custom-format dump read from stdin, all or nothing. */
export function dockerPgRestore(slug: string): string[] {
  return [
    "docker", "exec", "-i", tenantLayout(slug).containers.postgres,
    "pg_restore", "--no-password", "-U", TENANT_DB_USER, "-d", TENANT_DB_NAME, "--no-owner", "--exit-on-error", "--single-transaction",
  ];
}

/** Start only the database (and wait for it): the restore writes into it before n8n starts. */
export function composeUpDatabase(slug: string): string[] {
  return [...composeBase(slug), "up", "-d", "--wait", "--wait-timeout", "180", "postgres"];
}

/** Create (not start) n8n's container and its fresh volume, so the archive can be put in. */
export function composeCreateN8n(slug: string, plan: { queueMode: boolean }): string[] {
  const profiles = tenantProfiles(plan).flatMap((p) => ["--profile", p]);
  return [...composeBase(slug), ...profiles, "up", "--no-start", "--no-deps", "n8n"];
}

export function dockerVolumeRm(slug: string): string[] {
  return ["docker", "volume", "rm", "--force", tenantLayout(slug).volumes.n8ndata];
}

/** Files the archive put in are owned by root unless the tar says otherwise: give them to node. */
export function dockerChownN8nData(image: string, slug: string): string[] {
  return ["docker", "run", "--rm", "--user", "0", "--entrypoint", "chown", "-v", `${tenantLayout(slug).volumes.n8ndata}:${N8N_DATA_DIR}`, image, "-R", "node:node", N8N_DATA_DIR];
}

const sqlLiteral = (v: string) => `'${v.replace(/'/g, "''")}'`;

/**
 * After `restore --as`: the restored owner account keeps the source tenant's address
 * (owner@<source>.<domain>); give it the new tenant's, as `tenant create` would have.
 */
export function execRenameOwner(fromEmail: string, toEmail: string): string[] {
  return execPsql(`update "user" set email = ${sqlLiteral(toEmail)} where email = ${sqlLiteral(fromEmail)}`);
}
