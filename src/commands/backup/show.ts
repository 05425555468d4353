import type { Handler } from "../../cli/program.js";
import { consistencyLines } from "../../core/backup/consistency.js";
import type { BackupManifest } from "../../core/backup/manifest.js";
import { UsageError } from "../../errors.js";
import { publicRow } from "./list.js";
import { formatBytes } from "./format.js";

// One backup from the catalogue: its row, its parts, and how each part was taken — what a
// restore of it may lack and why (the manifest's `consistency`).

const handler: Handler = async (ctx, [id]) => {
  const db = await ctx.db();
  const { getBackup } = await import("../../state/backups.js");
  const row = await getBackup(db, String(id));
  if (!row) throw new UsageError(`backup '${id}' does not exist`, { code: "backup-not-found", hint: "`btw backup list`" });
  const m = row.manifest as Partial<BackupManifest>;
  const consistency = row.status === "done" ? consistencyLines(m.consistency) : [];
  ctx.out.result({ backup: publicRow(row), consistency }, () =>
    [
      `backup ${row.id} of ${row.tenantSlug}${row.tenantId === null ? "" : ` (tenant id ${row.tenantId})`}: ${row.status}${row.error ? ` — ${row.error}` : ""}`,
      `  created ${row.createdAt.toISOString()}${row.finishedAt ? `, finished ${row.finishedAt.toISOString()}` : ""}, reason ${row.reason}${row.verifiedAt ? `, verified ${row.verifiedAt.toISOString()}` : ""}`,
      `  ${formatBytes(row.sizeBytes)} at ${row.location}`,
      ...(m.parts ?? []).map((p) => `  part ${p.name}: ${formatBytes(p.size)}, sha256 ${p.sha256.slice(0, 16)}…`),
      ...(m.counts ? [`  counts: ${(["workflows", "credentials", "executions"] as const).map((k) => `${m.counts![k] ?? "?"} ${k}`).join(", ")}`] : []),
      ...(consistency.length ? ["  how it was taken:", ...consistency.map((l) => `    ${l}`)] : []),
    ].join("\n"),
  );
};
export default handler;
