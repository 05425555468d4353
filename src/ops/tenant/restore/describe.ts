import type { RestorePlan } from "./plan.js";

// A restore plan in words: the steps `btw restore --dry-run` prints, and the note a crossing
// restore gives before it starts (dry run, prompt, progress).

/** What a crossing restore says before it starts (dry run, prompt, progress); null when it does not cross. */
export function crossingNote(p: Pick<RestorePlan, "backup" | "crossed" | "source">): string | null {
  if (!p.crossed || !p.backup) return null;
  const from = p.crossed.from === null ? "no recorded tenant (imported)" : `tenant id ${p.crossed.from}`;
  return `backup ${p.backup.id} is of another tenant named ${p.source.slug} (${from}), not of the one the name means (id ${p.crossed.to}): restored across ids, as --backup asks`;
}

export function describeRestore(p: RestorePlan) {
  const b = p.backup;
  const crossing = crossingNote(p);
  const steps =
    p.mode === "rollback"
      ? [b ? `put the safety backup ${b.id} back (the data from before the interrupted restore)` : "nothing was replaced yet: start the stack as it is", `status back to ${p.previous!.details.priorStatus}`]
      : [
          ...(crossing ? [crossing] : []),
          "read and check the whole backup (decrypt every chunk, sha256 of each part)",
          ...(p.mode === "recreate"
            ? [`register tenant ${p.target} on ${p.server.name} with the escrowed secrets (N8N_ENCRYPTION_KEY…)`, "remove what a failed create left of the stack", "ship compose file and .env"]
            : [
                "status restoring: maintenance page, excluded from backups",
                p.mode === "resume" && p.previous!.details.safetyBackup ? `safety backup already taken: ${p.previous!.details.safetyBackup}` : p.noSafetyBackup ? "NO safety backup (--no-safety-backup)" : "safety backup of the current data (kept for --rollback)",
              ]),
          "re-create the database and pg_restore the dump",
          "re-create n8n's data volume from the archive",
          "start the stack, wait for n8n, check its API",
          p.mode === "recreate" ? "route it" : `back to its status before (${p.previous?.details.priorStatus ?? p.existing?.status})`,
        ];
  return { backup: b?.id ?? null, createdAt: b?.createdAt ?? null, tenant: p.target, mode: p.mode, server: p.server.name, plan: p.planName, crossed: p.crossed, steps };
}
