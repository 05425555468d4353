import type { Handler } from "../../cli/program.js";
import { publicManifest, type BackupManifest } from "../../core/backup/manifest.js";
import type { BackupRow } from "../../state/backups.js";
import { formatBytes } from "./format.js";

export function publicRow(b: BackupRow) {
  return { ...b, manifest: publicManifest(b.manifest as Partial<BackupManifest>) };
}

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const { listBackups } = await import("../../state/backups.js");
  const rows = await listBackups(db, typeof opts.tenant === "string" ? { tenantSlug: opts.tenant } : {});
  // pruned backups stay as history rows; --all shows them
  const shown = opts.all ? rows : rows.filter((r) => r.status !== "deleted");
  ctx.out.result({ backups: shown.map(publicRow) }, () =>
    shown.length === 0
      ? "no backups"
      : ctx.out.table(shown, [
          { header: "id", value: (r) => r.id },
          { header: "tenant", value: (r) => r.tenantSlug },
          // a name outlives its tenant: the id tells a purged customer's backups from a new one's
          { header: "tenant id", value: (r) => r.tenantId },
          { header: "status", value: (r) => r.status },
          { header: "size", value: (r) => formatBytes(r.sizeBytes), align: "right" },
          { header: "n8n", value: (r) => r.n8nVersion },
          { header: "created", value: (r) => r.createdAt.toISOString().replace(/\.\d+Z$/, "Z") },
          { header: "verified", value: (r) => r.verifiedAt?.toISOString().replace(/\.\d+Z$/, "Z") },
          { header: "error", value: (r) => r.error?.slice(0, 60) },
        ]),
  );
};
export default handler;
