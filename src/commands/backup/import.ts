import type { Handler } from "../../cli/program.js";
import { ExitCode } from "../../errors.js";

// The catalogue rebuilt from the storage: every backup object not in the state is read end to
// end (decrypted and checked) and recorded as a completed backup.
const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const tenant = typeof opts.tenant === "string" ? opts.tenant : undefined;
  if (tenant !== undefined) {
    const { nameProblem, TENANT_NAME } = await import("../../core/names.js");
    const { UsageError } = await import("../../errors.js");
    const problem = nameProblem(tenant, TENANT_NAME);
    if (problem) throw new UsageError(`invalid tenant name ${JSON.stringify(tenant)}: ${problem}`);
  }
  const { storageFor } = await import("../../ops/backup/tenant.js");
  const { importBackups } = await import("../../ops/backup/import.js");
  const storage = await storageFor(ctx);
  const r = await importBackups(ctx, db, storage, { ...(tenant ? { tenant } : {}), dryRun: opts.dryRun === true });
  if (!opts.dryRun && r.imported.length) await ctx.audit("backup.import", tenant ?? "*", { imported: r.imported.map((i) => i.id), failed: r.failed.map((f) => f.key) });
  ctx.out.result({ dryRun: opts.dryRun === true, storage: storage.root, ...r }, () =>
    [
      `${opts.dryRun ? "would import" : "imported"} ${r.imported.length} backup(s) from ${storage.root}; ${r.known} already in the state`,
      ...r.imported.map((i) => `  ${i.tenant}: ${i.id}`),
      ...r.failed.map((f) => `  ✗ ${f.key}: ${f.error}`),
    ].join("\n"),
  );
  if (r.failed.length) return ExitCode.partial;
};
export default handler;
