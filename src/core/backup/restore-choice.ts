// Which backup `btw restore` takes. A name outlives its tenant: a purged customer's backups
// stay `backup.retention.purgedDays` under the name, and a new customer may take the name
// meanwhile. A backup belongs to the tenant row that took it (its id), so without --backup a
// restore takes the newest completed backup of the tenant the name means now — never another
// customer's workflows, credentials and encryption key because the name matches. Another
// tenant's backup of the name is taken only when named, and the restore says it crossed.
// Pure: the caller gives the name's tenant and its backups, and maps a refusal to an error.

import { ConflictError, NotFoundError, UsageError, type BtwError } from "../../errors.js";

export interface BackupCandidate {
  id: string;
  /** the tenant row that took it; null: not recorded (a backup imported with no live tenant of its name) */
  tenantId: number | null;
  tenantSlug: string;
  status: string;
  reason: string;
  createdAt: Date;
}

/** The name restored from, and the tenant it means. */
export interface RestoreSource {
  slug: string;
  /**
   * The live tenant of that name, else its last purged one (while a restore onto the name is
   * unfinished: the tenant that restore brings back); null when the state never held the name
   * (backups imported after the state was lost).
   */
  tenantId: number | null;
}

export type BackupChoice<B extends BackupCandidate> =
  | {
      ok: true;
      backup: B;
      /** a named backup of another tenant of the name: its id (`from`) and the id the name means (`to`) */
      crossed: { from: number | null; to: number } | null;
    }
  | BackupRefusal<B>;

export type BackupRefusal<B extends BackupCandidate> =
  | { ok: false; reason: "no-backup"; slug: string }
  | { ok: false; reason: "no-own-backup"; slug: string; tenantId: number; newest: B }
  | { ok: false; reason: "backup-of-other-name"; slug: string; backup: B };

/** Newest first, as `backup list` shows them (time, then id). */
const newestFirst = (a: BackupCandidate, b: BackupCandidate) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * `requested` (--backup, looked up by id): taken if it is of this name, crossing or not.
 * Otherwise the newest completed backup of the source's tenant that is not a restore's own
 * safety copy (`pre-restore`).
 */
export function chooseRestoreBackup<B extends BackupCandidate>(source: RestoreSource, backups: readonly B[], requested?: B): BackupChoice<B> {
  if (requested) {
    if (requested.tenantSlug !== source.slug) return { ok: false, reason: "backup-of-other-name", slug: source.slug, backup: requested };
    const crossed = source.tenantId !== null && requested.tenantId !== source.tenantId ? { from: requested.tenantId, to: source.tenantId } : null;
    return { ok: true, backup: requested, crossed };
  }
  const usable = backups.filter((b) => b.tenantSlug === source.slug && b.status === "done" && b.reason !== "pre-restore").sort(newestFirst);
  const own = usable.find((b) => source.tenantId === null || b.tenantId === source.tenantId);
  if (own) return { ok: true, backup: own, crossed: null };
  if (source.tenantId !== null && usable[0]) return { ok: false, reason: "no-own-backup", slug: source.slug, tenantId: source.tenantId, newest: usable[0] };
  return { ok: false, reason: "no-backup", slug: source.slug };
}

/** The refusal as the error the command prints (exit 2 each: nothing was changed). */
export function backupChoiceError(r: BackupRefusal<BackupCandidate>): BtwError {
  switch (r.reason) {
    case "no-backup":
      return new NotFoundError("backup of tenant", r.slug, { hint: `\`btw backup tenant ${r.slug}\` makes one; \`btw backup list\` shows what exists` });
    case "backup-of-other-name":
      return new UsageError(`backup ${r.backup.id} belongs to tenant ${r.backup.tenantSlug}, not ${r.slug}`, { hint: `\`btw restore ${r.backup.tenantSlug} --backup ${r.backup.id} --as ${r.slug}\`` });
    case "no-own-backup": {
      const whose = r.newest.tenantId === null ? "of no recorded tenant (imported)" : `of another tenant of that name (id ${r.newest.tenantId})`;
      return new ConflictError(
        `tenant ${r.slug} (id ${r.tenantId}) has no completed backup of its own; the newest named ${r.slug}, ${r.newest.id}, is ${whose}: name the one to restore with --backup <id> (\`btw backup list --tenant ${r.slug}\`)`,
        { code: "no-own-backup" },
      );
    }
  }
}
