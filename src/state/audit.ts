// The audit log: who (OS user, host) did what to which target, append-only. Callers pass
// details without secrets; as a second line of defence, values under secret-looking keys
// are replaced by "[REDACTED]" before they are stored.

import os from "node:os";
import type { Queryable } from "./db.js";

export interface AuditEntry {
  id: number;
  at: Date;
  /** the OS user who ran btw (column os_user) */
  actor: string;
  host: string;
  /** e.g. "tenant.create" */
  action: string;
  /** e.g. the tenant slug or server name; "" when there is none */
  target: string;
  details: Record<string, unknown>;
  before: unknown;
  after: unknown;
}

export interface NewAuditEntry {
  action: string;
  target?: string;
  details?: Record<string, unknown>;
  before?: unknown;
  after?: unknown;
  /** default: the current OS user */
  actor?: string;
  /** default: this machine's hostname */
  host?: string;
}

const SECRET_KEY = /passw(or)?d|passphrase|secret|token|api[-_]?key|private[-_]?key|encryption[-_]?key|master[-_]?key|ciphertext|credential/i;

/** Deep copy with values under secret-looking keys replaced. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && v != null && v !== "" ? "[REDACTED]" : redactSecrets(v)]),
    );
  }
  return value;
}

export function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    // no passwd entry (some containers)
    return process.env.USER ?? process.env.LOGNAME ?? String(process.getuid?.() ?? "unknown");
  }
}

const COLUMNS = `id, at, os_user as actor, host, action, target, details, before, after`;

function json(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(redactSecrets(v));
}

export async function appendAudit(q: Queryable, e: NewAuditEntry): Promise<AuditEntry> {
  const r = await q.query<AuditEntry>(
    `insert into audit_log (os_user, host, action, target, details, before, after)
     values ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb)
     returning ${COLUMNS}`,
    [e.actor ?? osUser(), e.host ?? os.hostname(), e.action, e.target ?? "", json(e.details ?? {}), json(e.before), json(e.after)],
  );
  return r.rows[0]!;
}

export interface AuditFilter {
  since?: Date;
  action?: string;
  target?: string;
  /** actions starting with this, e.g. "tenant." */
  actionPrefix?: string;
  /** newest N; default all */
  limit?: number;
}

/** Oldest first; with `limit`, the newest N, still oldest first. */
export async function listAudit(q: Queryable, f: AuditFilter = {}): Promise<AuditEntry[]> {
  const r = await q.query<AuditEntry>(
    `select * from (
       select ${COLUMNS} from audit_log
        where ($1::timestamptz is null or at >= $1)
          and ($2::text is null or action = $2)
          and ($3::text is null or target = $3)
          and ($5::text is null or starts_with(action, $5))
        order by id desc
        limit $4
     ) newest order by id`,
    [f.since ?? null, f.action ?? null, f.target ?? null, f.limit ?? null, f.actionPrefix ?? null],
  );
  return r.rows;
}
