import type { Handler } from "../../cli/program.js";
import { ExitCode } from "../../errors.js";
import { backupAll } from "../../ops/backup-all.js";
import { cleanupInterrupted, storageFor, withInterrupt } from "../../ops/backup.js";
import { requireServer } from "../server/shared.js";
import { formatBytes } from "./format.js";

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const server = typeof opts.server === "string" ? (await requireServer(db, opts.server)).name : undefined;
  const c = ctx.config.backup.concurrency;
  const total = typeof opts.concurrency === "number" ? opts.concurrency : c.total;
  const perServer = Math.min(typeof opts.perServer === "number" ? opts.perServer : c.perServer, total);
  const storage = await storageFor(ctx);
  if (opts.dryRun) {
    const { listTenants } = await import("../../state/tenants.js");
    const tenants = await listTenants(db, { status: ["active", "suspended"], ...(server ? { serverName: server } : {}) });
    return void ctx.out.result({ dryRun: true, tenants: tenants.map((t) => ({ tenant: t.slug, server: t.serverName })), concurrency: { total, perServer }, storage: storage.root }, () =>
      `would back up ${tenants.length} tenant(s), ${total} at once (≤ ${perServer} per server) → ${storage.root}`,
    );
  }
  const cleaned = await cleanupInterrupted(db, storage);
  for (const id of cleaned) ctx.out.warn(`backup ${id} had been interrupted; its partial object was removed`);
  const report = await withInterrupt((signal) =>
    backupAll(ctx, db, storage, {
      ...(server ? { server } : {}),
      total,
      perServer,
      signal,
      onDone: (r) => ctx.out.info(r.ok ? `✓ ${r.tenant} (${r.server}): ${formatBytes(r.sizeBytes)} in ${r.seconds.toFixed(1)} s` : `✗ ${r.tenant} (${r.server}): ${r.error}`),
    }),
  );
  await ctx.audit("backup.all", server ?? "*", { total: report.total, succeeded: report.succeeded, failed: report.failed, failedTenants: report.results.filter((r) => !r.ok).map((r) => r.tenant) });
  ctx.out.result(report, () => {
    const lines = [`${report.succeeded}/${report.total} tenant(s) backed up in ${report.seconds.toFixed(1)} s, ${formatBytes(report.bytes)}`];
    const failed = report.results.filter((r) => !r.ok);
    if (failed.length) {
      lines.push("failed:");
      for (const f of failed) if (!f.ok) lines.push(`  ${f.tenant} on ${f.server}: ${f.error}`);
    }
    return lines.join("\n");
  });
  if (!report.ok) {
    ctx.out.info(`${ctx.out.paint("error:", 31)} ${report.failed} of ${report.total} backup(s) failed: ${report.results.filter((r) => !r.ok).map((r) => r.tenant).join(", ")}`);
    return ExitCode.partial;
  }
};
export default handler;
