// issue 22 item 7: which backup `btw restore` takes. A name outlives its tenant (a purged
// customer's backups are kept `purgedDays`), so the choice is by the tenant's id: the newest
// completed backup of the tenant the name means; another tenant's only when named.
import { describe, expect, it } from "vitest";
import { backupChoiceError, chooseRestoreBackup, type BackupCandidate } from "../../../src/core/backup/restore-choice.js";

const b = (id: string, tenantId: number | null, day: number, more: Partial<BackupCandidate> = {}): BackupCandidate => ({
  id,
  tenantId,
  tenantSlug: "acme",
  status: "done",
  reason: "manual",
  createdAt: new Date(Date.UTC(2026, 2, day, 3)),
  ...more,
});

// the purged acme (id 1) left three backups; the new acme is id 2
const old1 = b("acme-old-1", 1, 1);
const old2 = b("acme-old-2", 1, 5, { reason: "final" });
const oldSafety = b("acme-old-safety", 1, 6, { reason: "pre-restore" });
const purgedOnes = [old1, old2, oldSafety];

describe("chooseRestoreBackup without --backup", () => {
  it("takes the newest completed backup of the tenant the name means, not the newest of the name", () => {
    const own = b("acme-new-1", 2, 3);
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 2 }, [old1, own, old2, oldSafety])).toEqual({ ok: true, backup: own, crossed: null });
  });

  it("refuses when the tenant of that name has none of its own, though an earlier tenant of the name has some", () => {
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 2 }, purgedOnes)).toEqual({ ok: false, reason: "no-own-backup", slug: "acme", tenantId: 2, newest: old2 });
  });

  it("a purged name (the name still means the purged tenant): its newest backup, never a restore's safety copy", () => {
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 1 }, purgedOnes)).toEqual({ ok: true, backup: old2, crossed: null });
  });

  it("leaves out running, failed and pruned backups, and backups of other names", () => {
    const list = [old1, b("acme-running", 1, 9, { status: "running" }), b("acme-failed", 1, 8, { status: "failed" }), b("acme-pruned", 1, 7, { status: "deleted" }), b("beta-1", 1, 9, { tenantSlug: "beta" })];
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 1 }, list)).toEqual({ ok: true, backup: old1, crossed: null });
  });

  it("ties on time: the greater id, as `backup list` orders them", () => {
    const x = b("acme-x", 1, 4);
    const y = b("acme-y", 1, 4);
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 1 }, [y, x])).toEqual({ ok: true, backup: y, crossed: null });
  });

  it("a backup with no recorded tenant (imported) is not the tenant's own", () => {
    const imported = b("acme-imported", null, 9);
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 2 }, [imported])).toEqual({ ok: false, reason: "no-own-backup", slug: "acme", tenantId: 2, newest: imported });
  });

  it("a name the state never held (backups imported after the state was lost): the newest of the name", () => {
    const i1 = b("acme-i1", null, 1);
    const i2 = b("acme-i2", null, 2);
    expect(chooseRestoreBackup({ slug: "acme", tenantId: null }, [i1, i2])).toEqual({ ok: true, backup: i2, crossed: null });
  });

  it("no backup of the name at all", () => {
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 2 }, [oldSafety])).toEqual({ ok: false, reason: "no-backup", slug: "acme" });
    expect(chooseRestoreBackup({ slug: "acme", tenantId: null }, [])).toEqual({ ok: false, reason: "no-backup", slug: "acme" });
  });
});

describe("chooseRestoreBackup with --backup", () => {
  it("the tenant's own backup: not crossed", () => {
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 1 }, [], old1)).toEqual({ ok: true, backup: old1, crossed: null });
  });

  it("an earlier tenant's backup of the name, named: allowed, and says it crossed from that tenant's id to this one's", () => {
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 2 }, [], old1)).toEqual({ ok: true, backup: old1, crossed: { from: 1, to: 2 } });
    const imported = b("acme-imported", null, 9);
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 2 }, [], imported)).toEqual({ ok: true, backup: imported, crossed: { from: null, to: 2 } });
  });

  it("named, it may be a safety copy (the operator chose it)", () => {
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 1 }, [], oldSafety)).toEqual({ ok: true, backup: oldSafety, crossed: null });
  });

  it("a backup of another name is refused (that is --as)", () => {
    const beta = b("beta-1", 7, 1, { tenantSlug: "beta" });
    expect(chooseRestoreBackup({ slug: "acme", tenantId: 2 }, [], beta)).toEqual({ ok: false, reason: "backup-of-other-name", slug: "acme", backup: beta });
  });
});

describe("backupChoiceError", () => {
  it("no own backup: exit 2, one line naming --backup and `btw backup list --tenant`", () => {
    const e = backupChoiceError({ ok: false, reason: "no-own-backup", slug: "acme", tenantId: 2, newest: old2 });
    expect({ code: e.code, exitCode: e.exitCode, message: e.message, hint: e.hint }).toEqual({
      code: "no-own-backup",
      exitCode: 2,
      message:
        "tenant acme (id 2) has no completed backup of its own; the newest named acme, acme-old-2, is of another tenant of that name (id 1): name the one to restore with --backup <id> (`btw backup list --tenant acme`)",
      hint: undefined,
    });
    const imported = backupChoiceError({ ok: false, reason: "no-own-backup", slug: "acme", tenantId: 2, newest: b("acme-imported", null, 9) });
    expect(imported.message).toBe(
      "tenant acme (id 2) has no completed backup of its own; the newest named acme, acme-imported, is of no recorded tenant (imported): name the one to restore with --backup <id> (`btw backup list --tenant acme`)",
    );
  });

  it("no backup at all, and a backup of another name: as before", () => {
    const none = backupChoiceError({ ok: false, reason: "no-backup", slug: "acme" });
    expect({ code: none.code, exitCode: none.exitCode, message: none.message, hint: none.hint }).toEqual({
      code: "backup of tenant-not-found",
      exitCode: 2,
      message: "backup of tenant 'acme' does not exist",
      hint: "`btw backup tenant acme` makes one; `btw backup list` shows what exists",
    });
    const other = backupChoiceError({ ok: false, reason: "backup-of-other-name", slug: "acme", backup: b("beta-1", 7, 1, { tenantSlug: "beta" }) });
    expect({ code: other.code, exitCode: other.exitCode, message: other.message, hint: other.hint }).toEqual({
      code: "usage",
      exitCode: 2,
      message: "backup beta-1 belongs to tenant beta, not acme",
      hint: "`btw restore beta --backup beta-1 --as acme`",
    });
  });
});
