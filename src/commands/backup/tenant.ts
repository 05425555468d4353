import type { Handler } from "../../cli/program.js";
import { backupTenant, cleanupInterrupted, openServerSession, storageFor, withInterrupt } from "../../ops/backup/tenant.js";
import { requireTenant, tenantServer } from "../../ops/tenant-context.js";
import { formatBytes } from "./format.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const tenant = await requireTenant(db, String(name));
  const server = await tenantServer(db, tenant);
  const storage = await storageFor(ctx);
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, tenant: tenant.slug, server: server.name, storage: storage.root }, () =>
      `would back up ${tenant.slug} on ${server.name}: pg_dump + n8n data → encrypted → ${storage.root}${tenant.slug}/`,
    );
  }
  const cleaned = await cleanupInterrupted(db, storage);
  for (const id of cleaned) ctx.out.warn(`backup ${id} had been interrupted; its partial object was removed`);
  const r = await withInterrupt(async (signal) => backupTenant(ctx, db, storage, await openServerSession(ctx, server), tenant, { signal }));
  await ctx.audit("backup.tenant", tenant.slug, { id: r.id, location: r.location, sizeBytes: r.sizeBytes });
  await (await import("../../ops/monitoring/publish.js")).publishFacts(ctx);
  ctx.out.result({ backup: r }, () => `backup ${r.id}: ${formatBytes(r.sizeBytes)} in ${r.seconds.toFixed(1)} s → ${r.location}`);
};
export default handler;
