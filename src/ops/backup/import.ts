import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import type { Ctx } from "../../cli/context.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import type { Db } from "../../state/db.js";

// `btw backup import`: rebuilds the catalogue from the storage alone. Every object carries
// what its row needs — the btwb header names the backup and tenant, the manifest inside (read
// by decrypting the whole object, which also checks every chunk and part) gives the dates,
// n8n version and escrow — so a state that lost its rows (or a fresh one) can list and
// restore them. Objects already in the catalogue are left alone; damaged ones are reported.

const OBJECT = /^([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*-\d{8}T\d{6}Z-[0-9a-f]+)\.btwb$/;

export interface ImportReport {
  imported: Array<{ id: string; tenant: string }>;
  known: number;
  failed: Array<{ key: string; error: string }>;
}

export function parseObjectKey(key: string): { tenant: string; id: string } | null {
  const m = OBJECT.exec(key);
  return m && m[2]!.startsWith(`${m[1]}-`) ? { tenant: m[1]!, id: m[2]! } : null;
}

export async function importBackups(ctx: Ctx, db: Db, storage: BackupStorage, opts: { tenant?: string; dryRun?: boolean } = {}): Promise<ImportReport> {
  const found = (await storage.list(opts.tenant ? `${opts.tenant}/` : "")).map((key) => ({ key, ...parseObjectKey(key) })).filter((o): o is { key: string; tenant: string; id: string } => Boolean(o.id));
  const ids = found.map((o) => o.id);
  const known = new Set((await db.query<{ id: string }>(`select id from backups where id = any($1::text[])`, [ids])).rows.map((r) => r.id));
  const report: ImportReport = { imported: [], known: known.size, failed: [] };
  const master = await ctx.master();
  const { checkBackup } = await import("./restore-data.js");
  const { insertImportedBackup } = await import("../../state/backups.js");
  const { getTenant } = await import("../../state/tenants.js");
  for (const o of found.filter((x) => !known.has(x.id))) {
    if (opts.dryRun) {
      report.imported.push({ id: o.id, tenant: o.tenant });
      continue;
    }
    // the raw object's size and sha256, as `backup` recorded them, measured on the same read
    const hash = createHash("sha256");
    let size = 0;
    const view = Object.create(storage) as BackupStorage;
    view.get = async (key: string) => {
      const raw = await storage.get(key);
      const meter = new Transform({
        transform(c: Buffer, _e, cb) {
          hash.update(c);
          size += c.length;
          cb(null, c);
        },
      });
      raw.on("error", (e) => meter.destroy(e));
      return raw.pipe(meter);
    };
    try {
      const m = await checkBackup(view, o.key, master, o.id);
      if (m.tenant !== o.tenant) throw new Error(`its manifest names tenant ${m.tenant}, not ${o.tenant}`);
      const tenant = await getTenant(db, o.tenant);
      const added = await insertImportedBackup(db, {
        id: o.id,
        tenantId: tenant?.id ?? null,
        tenantSlug: o.tenant,
        location: storage.location(o.key),
        sizeBytes: size,
        sha256: hash.digest("hex"),
        n8nVersion: m.n8nVersion,
        manifest: m as unknown as Record<string, unknown>,
        createdAt: m.createdAt,
        finishedAt: m.finishedAt,
      });
      if (added) report.imported.push({ id: o.id, tenant: o.tenant });
    } catch (e) {
      report.failed.push({ key: o.key, error: (e as Error).message });
    }
  }
  return report;
}
