import type { TenantRow, TenantStatus } from "../../../state/tenants.js";
import type { RestorePlan } from "./plan.js";

// What a restore returns, and what its audit row records when it crossed tenant ids.

export interface RestoreResult {
  tenant: string;
  backup: string | null;
  safetyBackup: string | null;
  server: string;
  mode: RestorePlan["mode"];
  status: TenantStatus;
  seconds: number;
  counts: { workflows: number; credentials: number; executions: number } | null;
  mismatches: string[];
}

export type Step = (s: string) => void;

/** The audit's record of a restore across tenant ids: the backup's tenant → the row that got its data. */
export function crossedAudit(p: RestorePlan, into: TenantRow): { crossed?: { from: number | null; to: number } } {
  return p.crossed ? { crossed: { from: p.crossed.from, to: into.id } } : {};
}
