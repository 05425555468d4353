// What a tenant's migration journal (its `tenant.migrate` operation rows) leaves to do, and
// what `tenant migrate --cleanup` may remove. Pure: the rows and the tenant's server come in.
//
// A done `migrate` row keeps the source stack (volumes, files) for `--rollback` until a done
// `rollback` or `cleanup` row. A rollback moves the tenant back to the source in one state
// transaction that also writes `rollbackPhase: "switched"` on its row; a failure after it
// (the edge, the target's proxy, the target's removal) leaves a rollback that is past its
// switch but not done: the source is live again and only the target's stack is left over.

export interface MigrationJournalRow {
  id: number;
  step: string;
  status: "running" | "done" | "failed";
  details: Record<string, unknown>;
}

export type MigrationState<R extends MigrationJournalRow> =
  | { kind: "none" }
  /** a done migration whose source stack is kept: `--rollback` goes back to it, `--cleanup` removes it */
  | { kind: "source-kept"; migration: R }
  /** a rollback past its switch, not done: the tenant runs on the source again; `--rollback` finishes it */
  | { kind: "rollback-unfinished"; migration: R; rollback: R };

/** Where a rollback row has got to; rows of older btw have no `rollbackPhase`. */
export type RollbackPhase = "started" | "switched";

const fromServerOf = (row: MigrationJournalRow): number => Number(row.details.fromServerId);

/**
 * Reads `rows` (oldest first, as the journal lists them) newest first. `tenantServerId` is the
 * tenant row's server now: a rollback row of older btw (no `rollbackPhase`) that is not done
 * while the tenant runs on the migration's source got past its switch — only the rollback
 * moves a migrated tenant back there.
 */
export function migrationState<R extends MigrationJournalRow>(rows: readonly R[], tenantServerId: number | null): MigrationState<R> {
  let switched: R | null = null;
  let legacy: R | null = null;
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i]!;
    if (row.step === "rollback") {
      if (row.status === "done") return { kind: "none" };
      const phase = row.details.rollbackPhase as RollbackPhase | undefined;
      if (phase === "switched") switched ??= row;
      else if (phase === undefined) legacy ??= row;
      continue;
    }
    if (row.step === "cleanup" && row.status === "done") return { kind: "none" };
    if (row.step !== "migrate" || row.status !== "done") continue;
    if (switched) return { kind: "rollback-unfinished", migration: row, rollback: switched };
    if (legacy && tenantServerId !== null && tenantServerId === fromServerOf(row)) return { kind: "rollback-unfinished", migration: row, rollback: legacy };
    return { kind: "source-kept", migration: row };
  }
  return { kind: "none" };
}

/** Never the stack the tenant runs on: a kept stack may go only from another server. */
export function mayRemoveKeptStack(tenantServerId: number | null, serverId: number): boolean {
  return tenantServerId !== serverId;
}

export type CleanupDecision<R extends MigrationJournalRow> =
  | { action: "remove"; serverId: number; migration: R }
  | { action: "refuse"; reason: "no-migration" }
  | { action: "refuse"; reason: "rollback-unfinished"; migration: R }
  | { action: "refuse"; reason: "stack-is-live"; serverId: number; migration: R };

/**
 * What `--cleanup` may remove: the kept source of a done migration, and only while the tenant
 * runs elsewhere (`tenantServerId`: its row, read under its lock — not the journal's word).
 */
export function cleanupDecision<R extends MigrationJournalRow>(state: MigrationState<R>, tenantServerId: number | null): CleanupDecision<R> {
  if (state.kind === "none") return { action: "refuse", reason: "no-migration" };
  if (state.kind === "rollback-unfinished") return { action: "refuse", reason: "rollback-unfinished", migration: state.migration };
  const from = fromServerOf(state.migration);
  if (!mayRemoveKeptStack(tenantServerId, from)) return { action: "refuse", reason: "stack-is-live", serverId: from, migration: state.migration };
  return { action: "remove", serverId: from, migration: state.migration };
}
