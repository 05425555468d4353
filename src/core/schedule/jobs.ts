// The scheduled jobs: what each runs and when. `schedule install` writes them to the
// crontab, `schedule run <job>` runs one, `schedule status` shows them. Pure.

import type { ScheduleConfig } from "../../config/schedule-schema.js";

export type JobName = "backup-all" | "backup-verify" | "backup-prune" | "secrets-rotate" | "maintenance" | "content-prune" | "usage-collect";

export interface JobDef {
  name: JobName;
  cron: string;
  enabled: boolean;
  description: string;
  /**
   * btw's own argv for jobs that are one btw command; null for jobs `schedule run` carries
   * out itself (the verify sample picks tenants first; maintenance talks to every server).
   */
  argv: string[] | null;
}

export const JOB_NAMES: readonly JobName[] = ["backup-all", "backup-verify", "backup-prune", "secrets-rotate", "maintenance", "content-prune", "usage-collect"];

export function scheduledJobs(s: ScheduleConfig): JobDef[] {
  return [
    { name: "backup-all", cron: s.backupAll.cron, enabled: s.backupAll.enabled, description: "back up every tenant", argv: ["backup", "all", "--json"] },
    { name: "backup-verify", cron: s.backupVerify.cron, enabled: s.backupVerify.enabled, description: `verify the newest backup of ${s.backupVerify.sample} tenant(s), least recently verified first`, argv: null },
    { name: "backup-prune", cron: s.backupPrune.cron, enabled: s.backupPrune.enabled, description: "delete backups beyond the retention", argv: ["backup", "prune", "--json"] },
    { name: "secrets-rotate", cron: s.secretsRotate.cron, enabled: s.secretsRotate.enabled, description: "rotate tenant secrets that are due", argv: ["tenant", "secrets", "rotate", "--due", "--json"] },
    { name: "content-prune", cron: s.contentPrune.cron, enabled: s.contentPrune.enabled, description: "delete tenants' content keywords and clusters beyond their plan's retention", argv: ["tenant", "content", "prune", "--all", "--json"] },
    { name: "usage-collect", cron: s.usageCollect.cron, enabled: s.usageCollect.enabled, description: "meter the month's usage; notify tenants at 80 % and 100 % of a quota", argv: ["usage", "collect", "--json"] },
    { name: "maintenance", cron: s.maintenance.cron, enabled: s.maintenance.enabled, description: "prune unused images and build cache on every server, check disks", argv: null },
  ];
}

export function isJobName(s: string): s is JobName {
  return (JOB_NAMES as readonly string[]).includes(s);
}

/** Tenants to verify this run: never verified first, then the least recently verified. */
export function pickVerifySample(tenants: ReadonlyArray<{ tenant: string; lastBackupAt: Date | null; lastVerifiedAt: Date | null }>, n: number): string[] {
  return tenants
    .filter((t) => t.lastBackupAt !== null)
    .sort((a, b) => (a.lastVerifiedAt?.getTime() ?? -Infinity) - (b.lastVerifiedAt?.getTime() ?? -Infinity) || a.tenant.localeCompare(b.tenant))
    .slice(0, n)
    .map((t) => t.tenant);
}

/** The worst of several exit codes: failed (1) over partial (3) over ok (0); usage (2) counts as failed. */
export function worstExit(codes: readonly number[]): number {
  if (codes.some((c) => c !== 0 && c !== 3)) return 1;
  return codes.includes(3) ? 3 : 0;
}
