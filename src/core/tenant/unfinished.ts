// What a tenant in the middle of a mutation is waiting for (issue 22 item 12). A restore,
// migration, upgrade or create that was killed, or failed past its point of no return, leaves
// the tenant in a transitional status — behind the maintenance page, out of backups — until
// someone runs the same command again (or its --rollback). Nothing else moves it: `btw status`
// must say so, name the operation, and give the command that finishes it. Pure: the tenant
// and its journal rows in, the answer out.

/** Statuses a mutation puts a tenant in while it runs, and leaves it in when it stops half-way. */
export const TRANSITIONAL_STATUSES = ["provisioning", "restoring", "migrating", "upgrading"] as const;
export type TransitionalStatus = (typeof TRANSITIONAL_STATUSES)[number];

export function isTransitional(status: string): status is TransitionalStatus {
  return (TRANSITIONAL_STATUSES as readonly string[]).includes(status);
}

/** The journal kinds the flows write (ops: CREATE_KIND, RESTORE_KIND, MIGRATE_KIND, UPGRADE_KIND). */
export const JOURNAL_KINDS = {
  create: "tenant.create",
  restore: "tenant.restore",
  migrate: "tenant.migrate",
  upgrade: "tenant.upgrade",
} as const;

export interface JournalRow {
  id: number;
  kind: string;
  step: string;
  status: "running" | "done" | "failed";
  error: string | null;
  details: Record<string, unknown>;
  startedAt: Date;
}

export interface UnfinishedOperation {
  /** what did not finish, e.g. "restore", "migration to lab-2", "n8n upgrade to …:2.9.0" */
  operation: string;
  /** the journal row that says so; null when the status has no unfinished row behind it */
  journal: { id: number; kind: string; step: string; status: "running" | "failed"; phase: string | null; startedAt: Date; error: string | null } | null;
  /** the command that finishes it (re-running resumes from the journal); null: look first */
  finish: string | null;
  /** the command that undoes it instead, when there is one */
  undo: string | null;
}

export interface UnfinishedTenant {
  slug: string;
  status: string;
  plan: string;
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The newest row of `rows` that `pick` keeps. */
function newest(rows: readonly JournalRow[], pick: (r: JournalRow) => boolean): JournalRow | null {
  let found: JournalRow | null = null;
  for (const r of rows) if (pick(r) && (!found || r.id > found.id)) found = r;
  return found;
}

function journalOf(r: JournalRow): NonNullable<UnfinishedOperation["journal"]> {
  return {
    id: r.id,
    kind: r.kind,
    step: r.step,
    status: r.status === "done" ? "failed" : r.status,
    phase: str(r.details.phase) ?? str(r.details.rollbackPhase),
    startedAt: r.startedAt,
    error: r.error,
  };
}

/**
 * The operation a tenant in a transitional status has not finished, read from its journal rows
 * (any order); null when the tenant is not in one. A transitional status with no unfinished
 * row behind it is still reported (journal null): nothing will move the tenant out of it.
 */
export function unfinishedOperation(t: UnfinishedTenant, rows: readonly JournalRow[]): UnfinishedOperation | null {
  if (!isTransitional(t.status)) return null;
  const s = t.slug;
  const open = (r: JournalRow) => r.status !== "done";
  switch (t.status) {
    case "restoring": {
      const r = newest(rows, (x) => x.kind === JOURNAL_KINDS.restore && (x.step === "restore" || x.step === "rollback") && open(x));
      if (!r) break;
      if (r.step === "rollback") return { operation: "rollback of a restore", journal: journalOf(r), finish: `btw restore ${s} --rollback --yes`, undo: null };
      const backup = str(r.details.backup);
      return {
        operation: backup ? `restore of backup ${backup}` : "restore",
        journal: journalOf(r),
        finish: `btw restore ${s} --yes`,
        // without a safety backup there is nothing to go back to
        undo: r.details.safetyBackup === "skipped" ? null : `btw restore ${s} --rollback --yes`,
      };
    }
    case "migrating": {
      const r = newest(rows, (x) => x.kind === JOURNAL_KINDS.migrate && open(x) && (x.step === "rollback" || (x.step === "migrate" && x.details.phase !== "rolled-back" && x.details.phase !== "abandoned")));
      if (!r) break;
      const to = str(r.details.to);
      if (r.step === "rollback") return { operation: `rollback of the migration${to ? ` to ${to}` : ""}`, journal: journalOf(r), finish: `btw tenant migrate ${s} --rollback --yes`, undo: null };
      return { operation: `migration${to ? ` to ${to}` : ""}`, journal: journalOf(r), finish: to ? `btw tenant migrate ${s} --to ${to}` : null, undo: `btw tenant migrate ${s} --rollback --yes` };
    }
    case "upgrading": {
      // a failed upgrade row is concluded (nothing changed, or rolled back); a running one is not
      const r = newest(rows, (x) => x.kind === JOURNAL_KINDS.upgrade && x.status === "running");
      if (!r) break;
      const to = str(r.details.to);
      const what = r.step === "n8n" || r.step === "postgres" || r.step === "redis" ? r.step : null;
      if (!what) return { operation: `upgrade (${r.step})`, journal: journalOf(r), finish: null, undo: null };
      const name = what === "n8n" ? "n8n" : what === "postgres" ? "Postgres" : "Redis";
      return {
        operation: `${name} upgrade${to ? ` to ${to}` : ""}`,
        journal: journalOf(r),
        finish: to ? `btw upgrade ${what} --tenant ${s} --to ${to}` : null,
        // an n8n upgrade rolls itself back when it fails; Postgres and Redis have --rollback
        undo: what === "n8n" ? null : `btw upgrade ${what} --tenant ${s} --rollback`,
      };
    }
    case "provisioning": {
      const r = newest(rows, (x) => open(x) && (x.kind === JOURNAL_KINDS.create || (x.kind === JOURNAL_KINDS.restore && x.step === "recreate")));
      if (!r) break;
      if (r.kind === JOURNAL_KINDS.restore) {
        const backup = str(r.details.backup);
        return { operation: backup ? `re-creation from backup ${backup}` : "re-creation from a backup", journal: journalOf(r), finish: `btw restore ${s} --yes`, undo: `btw tenant delete ${s} --purge --yes` };
      }
      return { operation: "create", journal: journalOf(r), finish: `btw tenant create ${s} --plan ${t.plan}`, undo: `btw tenant delete ${s} --purge --yes` };
    }
  }
  return { operation: t.status, journal: null, finish: null, undo: null };
}

/** One line for `btw status`: which tenant, what did not finish, since when, and what to run. */
export function describeUnfinished(t: UnfinishedTenant, u: UnfinishedOperation): string {
  const j = u.journal;
  if (!j) return `tenant ${t.slug} is ${t.status} but its journal holds no unfinished operation: look with \`btw tenant show ${t.slug}\``;
  const where = j.phase ? ` at ${j.phase}` : "";
  const state =
    j.status === "failed"
      ? `failed${where}${j.error ? ` (${j.error})` : ""}`
      : `stopped${where} — started ${j.startedAt.toISOString()}, never finished (unless a btw is still at it)`;
  const todo = u.finish ? `finish it: \`${u.finish}\`${u.undo ? `, or undo it: \`${u.undo}\`` : ""}` : `look with \`btw tenant show ${t.slug}\``;
  return `tenant ${t.slug} is ${t.status}: its ${u.operation} ${state}; ${todo}`;
}
