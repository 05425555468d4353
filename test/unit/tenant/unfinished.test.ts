import { describe, expect, it } from "vitest";
import { describeUnfinished, JOURNAL_KINDS, unfinishedOperation, type JournalRow } from "../../../src/core/tenant/unfinished.js";
import { CREATE_KIND } from "../../../src/ops/tenant/create.js";
import { MIGRATE_KIND } from "../../../src/ops/tenant/migrate/journal.js";
import { RECREATE_STEP, RESTORE_KIND } from "../../../src/ops/tenant/restore/journal.js";
import { UPGRADE_KIND } from "../../../src/ops/upgrade/n8n.js";

// issue 22 item 12: what a tenant left mid-mutation has not finished, and the command that
// finishes it, read from its journal.

let id = 0;
const at = new Date("2026-03-01T03:00:00Z");
const row = (kind: string, step: string, status: JournalRow["status"], details: Record<string, unknown> = {}, error: string | null = null): JournalRow => ({
  id: ++id,
  kind,
  step,
  status,
  error,
  details,
  startedAt: at,
});
const acme = (status: string) => ({ slug: "acme", status, plan: "pro" });

describe("unfinishedOperation", () => {
  it("reads the kinds the flows write", () => {
    expect(JOURNAL_KINDS).toEqual({ create: CREATE_KIND, restore: RESTORE_KIND, migrate: MIGRATE_KIND, upgrade: UPGRADE_KIND });
    expect(RECREATE_STEP).toBe("recreate");
  });

  it("is nothing for a tenant in a settled status, whatever its journal", () => {
    for (const status of ["active", "suspended", "failed", "deleting", "deleted"]) {
      expect(unfinishedOperation(acme(status), [row(RESTORE_KIND, "restore", "running")])).toBeNull();
    }
  });

  it("a killed restore: the restore row, finished by the same restore, undone by --rollback", () => {
    const u = unfinishedOperation(acme("restoring"), [row(RESTORE_KIND, "restore", "done", { backup: "acme-old" }), row(RESTORE_KIND, "restore", "running", { backup: "acme-2", safetyBackup: "acme-safety" })]);
    expect(u).toEqual({
      operation: "restore of backup acme-2",
      journal: { id, kind: RESTORE_KIND, step: "restore", status: "running", phase: null, startedAt: at, error: null },
      finish: "btw restore acme --yes",
      undo: "btw restore acme --rollback --yes",
    });
    expect(describeUnfinished(acme("restoring"), u!)).toBe(
      "tenant acme is restoring: its restore of backup acme-2 stopped — started 2026-03-01T03:00:00.000Z, never finished (unless a btw is still at it); finish it: `btw restore acme --yes`, or undo it: `btw restore acme --rollback --yes`",
    );
  });

  it("a failed restore says its error; without a safety backup there is no undo", () => {
    const u = unfinishedOperation(acme("restoring"), [row(RESTORE_KIND, "restore", "failed", { backup: "acme-2", safetyBackup: "skipped" }, "pg_restore exited 1")]);
    expect(u).toMatchObject({ finish: "btw restore acme --yes", undo: null });
    expect(describeUnfinished(acme("restoring"), u!)).toBe("tenant acme is restoring: its restore of backup acme-2 failed (pg_restore exited 1); finish it: `btw restore acme --yes`");
  });

  it("a failed rollback of a restore is finished by --rollback", () => {
    const u = unfinishedOperation(acme("restoring"), [row(RESTORE_KIND, "restore", "failed"), row(RESTORE_KIND, "rollback", "failed", {}, "ssh: connection lost")]);
    expect(u).toMatchObject({ operation: "rollback of a restore", finish: "btw restore acme --rollback --yes", undo: null });
  });

  it("a killed migration: finished with its --to, undone by --rollback; one rolled back or abandoned is not it", () => {
    const u = unfinishedOperation(acme("migrating"), [row(MIGRATE_KIND, "migrate", "failed", { to: "lab-1", phase: "abandoned" }), row(MIGRATE_KIND, "migrate", "running", { to: "lab-2", phase: "final-backup" })]);
    expect(u).toMatchObject({ operation: "migration to lab-2", finish: "btw tenant migrate acme --to lab-2", undo: "btw tenant migrate acme --rollback --yes" });
    expect(describeUnfinished(acme("migrating"), u!)).toMatch(/^tenant acme is migrating: its migration to lab-2 stopped at final-backup — started /);
    expect(unfinishedOperation(acme("migrating"), [row(MIGRATE_KIND, "migrate", "failed", { to: "lab-2", phase: "rolled-back" })])).toMatchObject({ journal: null, finish: null });
  });

  it("a rollback of a migration that stopped is finished by --rollback", () => {
    const u = unfinishedOperation(acme("migrating"), [row(MIGRATE_KIND, "migrate", "done", { to: "lab-2" }), row(MIGRATE_KIND, "rollback", "failed", { to: "lab-2", rollbackPhase: "switched" }, "edge-a unreachable")]);
    expect(u).toMatchObject({ operation: "rollback of the migration to lab-2", finish: "btw tenant migrate acme --rollback --yes", journal: { phase: "switched" } });
  });

  it("a killed upgrade: the running row (a failed one was concluded), finished with its --to; Postgres and Redis undone by --rollback", () => {
    const n8n = unfinishedOperation(acme("upgrading"), [row(UPGRADE_KIND, "n8n", "failed", { to: "n8n:2.7.0" }), row(UPGRADE_KIND, "n8n", "running", { to: "r/n8nio/n8n:2.9.0", phase: "recreated" })]);
    expect(n8n).toMatchObject({ operation: "n8n upgrade to r/n8nio/n8n:2.9.0", finish: "btw upgrade n8n --tenant acme --to r/n8nio/n8n:2.9.0", undo: null, journal: { phase: "recreated" } });
    const pg = unfinishedOperation(acme("upgrading"), [row(UPGRADE_KIND, "postgres", "running", { to: "postgres:17", phase: "dumped" })]);
    expect(pg).toMatchObject({ operation: "Postgres upgrade to postgres:17", finish: "btw upgrade postgres --tenant acme --to postgres:17", undo: "btw upgrade postgres --tenant acme --rollback" });
    expect(unfinishedOperation(acme("upgrading"), [row(UPGRADE_KIND, "redis", "running", { to: "redis:8.0.3" })])).toMatchObject({ finish: "btw upgrade redis --tenant acme --to redis:8.0.3", undo: "btw upgrade redis --tenant acme --rollback" });
  });

  it("a killed create is finished by the same create, a killed re-creation from a backup by the same restore", () => {
    expect(unfinishedOperation(acme("provisioning"), [row(CREATE_KIND, "ship", "done"), row(CREATE_KIND, "up", "running")])).toMatchObject({ operation: "create", finish: "btw tenant create acme --plan pro", journal: { step: "up" } });
    expect(unfinishedOperation(acme("provisioning"), [row(RESTORE_KIND, RECREATE_STEP, "running", { backup: "acme-7" })])).toMatchObject({ operation: "re-creation from backup acme-7", finish: "btw restore acme --yes" });
  });

  it("a transitional status with nothing unfinished in the journal is still reported: nothing will move it", () => {
    const u = unfinishedOperation(acme("restoring"), [row(RESTORE_KIND, "restore", "done")]);
    expect(u).toEqual({ operation: "restoring", journal: null, finish: null, undo: null });
    expect(describeUnfinished(acme("restoring"), u!)).toBe("tenant acme is restoring but its journal holds no unfinished operation: look with `btw tenant show acme`");
  });
});
