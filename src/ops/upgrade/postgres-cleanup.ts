import type { Ctx } from "../../cli/context.js";
import { volumeNames } from "../../core/commands/stack-ownership.js";
import { isPgdataVolumeOf, tenantLayout } from "../../core/tenant/layout.js";
import { containersUsingVolume, pgVolumeRm } from "../../core/upgrade/postgres.js";
import { ConflictError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import { openServerSession } from "../backup/tenant.js";
import { adoptImages, lockTenant, requireTenant, tenantServer } from "../tenant-context.js";

// `btw upgrade postgres --cleanup --tenant T`: the old data volumes a Postgres upgrade kept
// (and its dump) go, once the operator confirms. Never the volume the state records as in
// use, never one a container still mounts, never while an upgrade of the tenant is unfinished.

export interface PgCleanupResult {
  tenant: string;
  server: string;
  inUse: string;
  wouldRemove: string[];
  removed: string[];
}

export async function cleanupPostgresVolumes(ctx: Ctx, db: Db, slug: string, o: { dryRun: boolean; yes: boolean | undefined }): Promise<PgCleanupResult> {
  const lock = await lockTenant(db, slug);
  try {
    const tenant = await requireTenant(db, slug);
    const { lastStep } = await import("../../state/operations.js");
    const op = await lastStep(db, tenant.id, "tenant.upgrade", "postgres");
    if (op?.status === "running") {
      throw new ConflictError(`${slug}'s Postgres upgrade did not finish`, { code: "upgrade-unfinished", hint: `finish it (\`btw upgrade postgres --tenant ${slug} --to …\`) or undo it (--rollback) first` });
    }
    const inUse = (await adoptImages(ctx, db, tenant)).pgdataVolume;
    const srv = await tenantServer(db, tenant);
    const session = await openServerSession(ctx, srv);
    const names = (await session.host.run(volumeNames())).stdout.split("\n").map((l) => l.trim()).filter(Boolean);
    const kept = names.filter((n) => isPgdataVolumeOf(slug, n) && n !== inUse).sort();
    const result: PgCleanupResult = { tenant: slug, server: srv.name, inUse, wouldRemove: kept, removed: [] };
    if (o.dryRun || kept.length === 0) return result;
    for (const v of kept) {
      const users = (await session.host.run(containersUsingVolume(v))).stdout.trim();
      if (users) throw new ConflictError(`refusing to remove ${v}: containers still use it (${users.split("\n").join(", ")})`, { code: "volume-in-use" });
    }
    await ctx.confirm(`Remove ${slug}'s old Postgres data volume(s) ${kept.join(", ")} on ${srv.name} (Postgres runs on ${inUse}; the pre-upgrade backup stays)?`, o.yes);
    await lock.check();
    for (const v of kept) {
      await session.host.run(pgVolumeRm(v));
      result.removed.push(v);
    }
    await session.host.removeTree(`${tenantLayout(slug).dir}/pg-upgrade`);
    await ctx.audit("tenant.upgrade.cleanup", slug, { what: "postgres", removed: result.removed, inUse });
    return result;
  } finally {
    await lock.release();
  }
}
