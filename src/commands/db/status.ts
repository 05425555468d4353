import { redactUrl } from "../../cli/context.js";
import type { Handler } from "../../cli/program.js";

const handler: Handler = async (ctx) => {
  const db = await ctx.db({ skipMigrationCheck: true });
  const { migrationStatus } = await import("../../state/migrate.js");
  const status = await migrationStatus(db);
  const url = ctx.config.database.url;
  const where = url ? redactUrl(url) : `${ctx.home}/state`;
  ctx.out.result({ driver: db.driver, location: where, applied: status.applied, pending: status.pending }, () =>
    [
      `store     ${db.driver} (${where})`,
      `applied   ${status.applied.length}${status.applied.length ? ` (latest ${status.applied[status.applied.length - 1]})` : ""}`,
      `pending   ${status.pending.length ? status.pending.join(", ") : "none"}`,
    ].join("\n"),
  );
};
export default handler;
