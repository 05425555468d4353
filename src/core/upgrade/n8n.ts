// The order of one tenant's n8n upgrade, as a value: its steps grouped by the journaled phase
// they run in. The flow (ops/upgrade/n8n.ts) runs exactly this list through runN8nUpgrade,
// so the order a test reads here is the order a server sees.
//
// The pre-upgrade backup is what a failed upgrade restores, so it is taken of a quiet tenant:
// the image is pulled first (up to 900 s, while the tenant still serves), then the maintenance
// page goes up and n8n and its worker stop, and only then the backup — as migrate's final
// backup. Nothing written while the tenant served is missing from the backup a rollback
// restores.

import { OperationError } from "../../errors.js";

export type N8nStep = "inspect" | "pull" | "maintenance" | "stop" | "backup" | "recreate" | "checks" | "record";

/**
 * The phase the journal records: the steps of that phase (and all later ones) are still to
 * run. What a failure does depends on it:
 *   prepared   the tenant serves, nothing changed: the upgrade fails, nothing to undo
 *   pulled     maintenance page and n8n stopped, maybe: the data is untouched, n8n starts
 *              again on its image and the tenant serves as before
 *   quiesced   the quiet backup is recorded: n8n may have migrated the database, so the
 *              backup is restored with the old image (the automatic rollback)
 *   rolling-back  that rollback is under way: a re-run finishes it
 */
export type N8nPhase = "prepared" | "pulled" | "quiesced" | "rolling-back";

export const N8N_UPGRADE_PHASES: ReadonlyArray<{ phase: Exclude<N8nPhase, "rolling-back">; steps: readonly N8nStep[] }> = [
  { phase: "prepared", steps: ["inspect", "pull"] },
  { phase: "pulled", steps: ["maintenance", "stop", "backup"] },
  { phase: "quiesced", steps: ["recreate", "checks", "record"] },
];

/** What each step prints as it starts (after "<tenant>: "); a kill test matches these. */
export const N8N_STEP_TITLES: Readonly<Record<N8nStep, string>> = {
  inspect: "published workflows noted",
  pull: "pull",
  maintenance: "maintenance page",
  stop: "n8n and its worker stopped",
  backup: "backup of the quiet tenant before the upgrade",
  recreate: "n8n recreated",
  checks: "checks: workflows published, credentials decrypt, a smoke execution",
  record: "new version recorded",
};

/**
 * The phase to resume from. Journals written before the backup moved behind the maintenance
 * page name two more: "backed-up" (a backup taken while the tenant served, the image pulled,
 * no maintenance page yet) redoes the maintenance page, the stop and a quiet backup;
 * "recreated" (maintenance page up, that backup recorded, n8n maybe recreated already) can
 * only go on from its backup, as it would have.
 */
export function n8nResumePhase(recorded: string): N8nPhase {
  if (recorded === "backed-up") return "pulled";
  if (recorded === "recreated") return "quiesced";
  if (recorded === "prepared" || recorded === "pulled" || recorded === "quiesced" || recorded === "rolling-back") return recorded;
  throw new OperationError(`unknown n8n upgrade phase ${JSON.stringify(recorded)} in the journal`, { code: "upgrade-phase-unknown" });
}

/** The steps still to run from `phase`, in order. */
export function n8nUpgradeSteps(phase: N8nPhase): N8nStep[] {
  const i = N8N_UPGRADE_PHASES.findIndex((p) => p.phase === phase);
  return i < 0 ? [] : N8N_UPGRADE_PHASES.slice(i).flatMap((p) => [...p.steps]);
}

/**
 * Runs the steps from `phase` in order: `reached(next)` when a phase's steps are all done
 * (the caller journals it), before the next phase's first step.
 */
export async function runN8nUpgrade(phase: N8nPhase, run: (step: N8nStep) => Promise<void>, reached: (phase: N8nPhase) => Promise<void>): Promise<void> {
  const i = N8N_UPGRADE_PHASES.findIndex((p) => p.phase === phase);
  if (i < 0) return;
  for (let k = i; k < N8N_UPGRADE_PHASES.length; k++) {
    if (k > i) await reached(N8N_UPGRADE_PHASES[k]!.phase);
    for (const step of N8N_UPGRADE_PHASES[k]!.steps) await run(step);
  }
}

/** The per-tenant line of `upgrade n8n --dry-run`, from the same list. */
export function describeN8nUpgrade(): string {
  const words: Record<N8nStep, string> = {
    inspect: "published workflows noted",
    pull: "pull (the tenant serves)",
    maintenance: "maintenance page",
    stop: "n8n and worker stopped",
    backup: "backup of the quiet tenant",
    recreate: "n8n recreated → readiness",
    checks: "workflows published, credentials decrypt, smoke execution",
    record: "version recorded",
  };
  return `${n8nUpgradeSteps("prepared").map((s) => words[s]).join(" → ")}; on failure after the backup it is restored with the old image`;
}
