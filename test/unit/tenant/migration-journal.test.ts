// What a tenant's migration journal leaves to do, and what `tenant migrate --cleanup` may
// remove (src/core/tenant/migration-journal.ts). Servers: A (1) is the migration's source,
// B (2) its target. The defect these guard (issue 22 item 1): a rollback that failed after it
// moved the tenant back to A left the journal reading "A is a kept source", and --cleanup
// removed the stack the tenant ran on.
import { describe, expect, it } from "vitest";
import { cleanupDecision, mayRemoveKeptStack, migrationState, type MigrationJournalRow } from "../../../src/core/tenant/migration-journal.js";

const A = 1;
const B = 2;
const move = { from: "lab-a", fromServerId: A, to: "lab-b", toServerId: B, phase: "switched" };

let next = 0;
const row = (step: string, status: MigrationJournalRow["status"], extra: Record<string, unknown> = {}): MigrationJournalRow => ({
  id: ++next,
  step,
  status,
  details: { ...move, ...extra },
});

describe("the migration journal, read newest first", () => {
  const migrated = row("migrate", "done");

  it("nothing journaled: nothing to do", () => {
    expect(migrationState([], A)).toEqual({ kind: "none" });
  });

  it("a done migration keeps its source", () => {
    expect(migrationState([migrated], B)).toEqual({ kind: "source-kept", migration: migrated });
  });

  it("a done rollback or a done cleanup ends it", () => {
    expect(migrationState([migrated, row("rollback", "done", { rollbackPhase: "switched" })], A)).toEqual({ kind: "none" });
    expect(migrationState([migrated, row("cleanup", "done")], B)).toEqual({ kind: "none" });
  });

  it("a rollback that failed before its switch leaves the source kept (the tenant is still on B)", () => {
    expect(migrationState([migrated, row("rollback", "failed", { rollbackPhase: "started" })], B)).toEqual({ kind: "source-kept", migration: migrated });
  });

  it("a rollback that failed after its switch is a rollback to finish, not a kept source", () => {
    const rollback = row("rollback", "failed", { rollbackPhase: "switched" });
    expect(migrationState([migrated, rollback], A)).toEqual({ kind: "rollback-unfinished", migration: migrated, rollback });
  });

  it("a rollback killed after its switch (its row still running) is one to finish too", () => {
    const rollback = row("rollback", "running", { rollbackPhase: "switched" });
    expect(migrationState([migrated, rollback], A)).toEqual({ kind: "rollback-unfinished", migration: migrated, rollback });
  });

  it("a re-run that failed again: the newest rollback row is the one to resume", () => {
    const first = row("rollback", "failed", { rollbackPhase: "switched" });
    const again = row("rollback", "failed", { rollbackPhase: "switched", resumes: first.id });
    expect(migrationState([migrated, first, again], A)).toEqual({ kind: "rollback-unfinished", migration: migrated, rollback: again });
    expect(migrationState([migrated, first, again, row("rollback", "done", { rollbackPhase: "switched" })], A)).toEqual({ kind: "none" });
  });

  it("a rollback row of older btw (no phase) got past its switch exactly when the tenant is back on the source", () => {
    const legacy = row("rollback", "failed");
    expect(migrationState([migrated, legacy], A)).toEqual({ kind: "rollback-unfinished", migration: migrated, rollback: legacy });
    expect(migrationState([migrated, legacy], B)).toEqual({ kind: "source-kept", migration: migrated });
  });

  it("unfinished migrate rows and failed cleanups are passed over", () => {
    const older = row("migrate", "done");
    expect(migrationState([older, row("cleanup", "failed"), row("migrate", "failed", { phase: "rolled-back" })], B)).toEqual({ kind: "source-kept", migration: older });
    expect(migrationState([older, row("cleanup", "done"), row("migrate", "running", { phase: "restored" })], A)).toEqual({ kind: "none" });
  });
});

describe("what --cleanup may remove", () => {
  const migrated = row("migrate", "done");

  it("the kept source, while the tenant runs on the target", () => {
    expect(cleanupDecision({ kind: "source-kept", migration: migrated }, B)).toEqual({ action: "remove", serverId: A, migration: migrated });
  });

  it("never the server the tenant's row says it runs on, whatever the journal says", () => {
    expect(cleanupDecision({ kind: "source-kept", migration: migrated }, A)).toEqual({ action: "refuse", reason: "stack-is-live", serverId: A, migration: migrated });
  });

  it("nothing while a rollback is unfinished: the source is live again (the defect of issue 22)", () => {
    const rollback = row("rollback", "failed", { rollbackPhase: "switched" });
    const rows = [migrated, rollback];
    expect(cleanupDecision(migrationState(rows, A), A)).toEqual({ action: "refuse", reason: "rollback-unfinished", migration: migrated });
    // a rollback row of older btw, read with the tenant's row: the same refusal
    expect(cleanupDecision(migrationState([migrated, row("rollback", "failed")], A), A)).toEqual({ action: "refuse", reason: "rollback-unfinished", migration: migrated });
  });

  it("nothing when no migration keeps a source", () => {
    expect(cleanupDecision({ kind: "none" }, B)).toEqual({ action: "refuse", reason: "no-migration" });
  });

  it("a kept stack may go from any server but the tenant's", () => {
    expect(mayRemoveKeptStack(B, A)).toBe(true);
    expect(mayRemoveKeptStack(A, A)).toBe(false);
    expect(mayRemoveKeptStack(null, A)).toBe(true);
  });
});
