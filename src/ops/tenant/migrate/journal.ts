import { migrationState, type MigrationState, type RollbackPhase } from "../../../core/tenant/migration-journal.js";
import type { UnavailabilityWindow } from "../../../core/tenant/migration-window.js";
import type { Db } from "../../../state/db.js";
import type { OperationRow } from "../../../state/operations.js";
import type { TenantRow, TenantStatus } from "../../../state/tenants.js";

// The journal of `tenant migrate` (operations, kind tenant.migrate): the row's details, the
// phases a migration passes through, and the readers that tell where one got to.

export const MIGRATE_KIND = "tenant.migrate";

export type MigrationPhase = "prepared" | "maintenance" | "final-backup" | "restored" | "switched" | "rolled-back" | "abandoned";

export interface MigrationDetails {
  from: string;
  fromServerId: number;
  to: string;
  toServerId: number;
  subnet?: string;
  fromSubnet?: string;
  backup?: string;
  finalBackup?: string;
  /** what the journal has reached (absent in rows of older btw) */
  phase?: MigrationPhase;
  /** the tenant's status before; it gets it back at the end */
  priorStatus?: TenantStatus;
  /** when the maintenance page went up (the unavailability window starts) */
  downSince?: string;
  /** edge mode: when every edge proxy took the route to the target, and which proxies */
  edgeSwitchedAt?: string;
  edgeProxies?: string[];
}

export interface MigrateResult {
  tenant: string;
  from: string;
  to: string;
  backup: string | null;
  finalBackup: string | null;
  seconds: number;
  downtimeSeconds: number | null;
  /** from the source stopping to the new route live with the target answering */
  unavailable: UnavailabilityWindow | null;
  /** edge mode: the edge proxies whose tables were switched; null in direct mode */
  edgeProxies: string[] | null;
}

export type Step = (title: string) => void;

export type MigrationOp = OperationRow & { details: MigrationDetails };

/** A rollback row's details: the migration's, plus where the rollback has got to. */
export interface RollbackDetails extends MigrationDetails {
  rollbackPhase?: RollbackPhase;
  safetyBackup?: string;
  switchedBackAt?: string;
}

export type RollbackOp = OperationRow & { details: RollbackDetails };

const PHASES: MigrationPhase[] = ["prepared", "maintenance", "final-backup", "restored", "switched"];
export const reached = (d: MigrationDetails, p: MigrationPhase) => PHASES.indexOf(d.phase!) >= PHASES.indexOf(p);

export const finishRollbackHint = (slug: string) => `\`btw tenant migrate ${slug} --rollback --yes\` finishes it`;

/**
 * What the tenant's migration journal leaves to do (core/tenant/migration-journal.ts), read
 * with its row's server as the state says now. Call under the tenant's lock to act on it.
 */
export async function migrationStateOf(db: Db, tenant: Pick<TenantRow, "id" | "serverId">): Promise<MigrationState<MigrationOp>> {
  const { listOperations } = await import("../../../state/operations.js");
  const ops = (await listOperations(db, { tenantId: tenant.id, kind: MIGRATE_KIND })) as MigrationOp[];
  return migrationState(ops, tenant.serverId);
}

/** The migration whose source is still kept (done, not rolled back or cleaned up), if any. */
export async function currentMigration(db: Db, tenantId: number): Promise<MigrationOp | null> {
  const { getTenantById } = await import("../../../state/tenants.js");
  const tenant = await getTenantById(db, tenantId);
  if (!tenant) return null;
  const state = await migrationStateOf(db, tenant);
  return state.kind === "source-kept" ? state.migration : null;
}

/** The migration a killed btw left unfinished (its journal row not done, not rolled back), if any. */
export async function unfinishedMigration(db: Db, tenantId: number): Promise<(OperationRow & { details: MigrationDetails }) | null> {
  const { lastStep } = await import("../../../state/operations.js");
  const op = await lastStep(db, tenantId, MIGRATE_KIND, "migrate");
  if (!op || op.status === "done") return null;
  const d = op.details as unknown as MigrationDetails;
  return d.phase && d.phase !== "rolled-back" && d.phase !== "abandoned" ? (op as OperationRow & { details: MigrationDetails }) : null;
}
