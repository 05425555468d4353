import type { Handler } from "../../cli/program.js";
import { ExitCode } from "../../errors.js";
import { backupAll } from "../../ops/backup/all.js";
import { cleanupInterrupted, storageFor, withInterrupt } from "../../ops/backup/tenant.js";
import { requireServer } from "../../ops/server/context.js";
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
    const { skipReason } = await import("../../ops/backup/tenant.js");
    const tenants = (await listTenants(db, server ? { serverName: server } : {})).map((t) => ({ tenant: t.slug, server: t.serverName, status: t.status, skip: skipReason(t.status) }));
    const skips = tenants.filter((t) => t.skip);
    return void ctx.out.result({ dryRun: true, tenants, concurrency: { total, perServer }, storage: storage.root }, () =>
      [
        `would back up ${tenants.length - skips.length} tenant(s), ${total} at once (≤ ${perServer} per server) → ${storage.root}`,
        ...skips.map((t) => `  would skip ${t.tenant} (${t.status}): ${t.skip!.replaceAll("<tenant>", t.tenant)}`),
      ].join("\n"),
    );
  }
  const cleaned = await cleanupInterrupted(db, storage);
  for (const id of cleaned) ctx.out.warn(`backup ${id} had been interrupted; its partial object was removed`);
  const report = await withInterrupt((signal) =>
    backupAll(ctx, db, storage, {
      ...(server ? { server } : {}),
      total,
      perServer,
      tenantTimeoutMs: ctx.config.backup.tenantTimeoutSec * 1000,
      signal,
      onDone: (r) =>
        ctx.out.info(
          r.ok ? `✓ ${r.tenant} (${r.server}): ${formatBytes(r.sizeBytes)} in ${r.seconds.toFixed(1)} s`
          : r.skipped ? `- ${r.tenant} (${r.server}) skipped: ${r.reason}`
          : `✗ ${r.tenant} (${r.server}): ${r.error}`,
        ),
    }),
  );
  const failedTenants = report.results.filter((r) => !r.ok && !r.skipped).map((r) => r.tenant);
  const skippedTenants = report.results.filter((r) => !r.ok && r.skipped).map((r) => r.tenant);
  await ctx.audit("backup.all", server ?? "*", { total: report.total, succeeded: report.succeeded, failed: report.failed, skipped: report.skipped, failedTenants, skippedTenants });
  await (await import("../../ops/monitoring/publish.js")).publishFacts(ctx);
  const stateBackup = await (await import("../../ops/state/backup.js")).stateBackupAfterAll(ctx, db, storage);
  ctx.out.result({ ...report, stateBackup }, () => {
    const lines = [`${report.succeeded}/${report.total} tenant(s) backed up in ${report.seconds.toFixed(1)} s, ${formatBytes(report.bytes)}`];
    const failed = report.results.filter((r) => !r.ok && !r.skipped);
    if (failed.length) {
      lines.push("failed:");
      for (const f of failed) if (!f.ok && !f.skipped) lines.push(`  ${f.tenant} on ${f.server}: ${f.error}`);
    }
    const skipped = report.results.filter((r) => !r.ok && r.skipped);
    if (skipped.length) {
      lines.push("skipped (not backed up):");
      for (const f of skipped) if (!f.ok && f.skipped) lines.push(`  ${f.tenant} on ${f.server} (${f.status}): ${f.reason}`);
    }
    return lines.join("\n");
  });
  if (!stateBackup.ok && report.ok) return ExitCode.partial;
  if (!report.ok) {
    const parts = [report.failed ? `${report.failed} failed (${failedTenants.join(", ")})` : "", report.skipped ? `${report.skipped} skipped (${skippedTenants.join(", ")})` : ""].filter(Boolean);
    ctx.out.info(`${ctx.out.paint("error:", 31)} ${report.total - report.succeeded} of ${report.total} tenant(s) not backed up: ${parts.join("; ")}`);
    return ExitCode.partial;
  }
};
export default handler;
