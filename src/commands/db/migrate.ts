import type { Handler } from "../../cli/program.js";

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db({ skipMigrationCheck: true });
  const { migrate, migrationStatus } = await import("../../state/migrate.js");
  if (opts.dryRun) {
    const status = await migrationStatus(db);
    ctx.out.result({ driver: db.driver, dryRun: true, pending: status.pending }, () =>
      status.pending.length ? `would apply:\n${status.pending.map((m) => `  ${m}`).join("\n")}` : "up to date: nothing to apply",
    );
    return;
  }
  const applied = await migrate(db);
  if (applied.length) await ctx.audit("db.migrate", db.driver, { applied });
  ctx.out.result({ driver: db.driver, applied }, () => (applied.length ? `applied:\n${applied.map((m) => `  ${m}`).join("\n")}` : "up to date: nothing to apply"));
};
export default handler;
