import { join } from "node:path";
import { redactUrl } from "../../cli/context.js";
import type { Handler } from "../../cli/program.js";

const handler: Handler = async (ctx) => {
  const url = ctx.config.database.url;
  const where = url ? redactUrl(url) : `${ctx.home}/state`;
  // The embedded server as found, before opening the state (which starts it when it is down).
  const embedded = url ? null : await import("../../state/embedded/server.js");
  const layout = url ? null : (await import("../../state/embedded/layout.js")).storeLayout(join(ctx.home, "state"));
  const before = embedded && layout ? embedded.readServerStatus(layout) : null;
  const db = await ctx.db({ skipMigrationCheck: true });
  const { migrationStatus } = await import("../../state/migrate.js");
  const status = await migrationStatus(db);
  const after = embedded && layout ? embedded.readServerStatus(layout) : null;
  const server = after
    ? { running: after.running, pid: after.pid, since: after.since, socket: after.socket, dataDir: after.dataDir, startedByThisCommand: !before?.running }
    : undefined;
  ctx.out.result({ driver: db.driver, location: where, ...(server ? { server } : {}), applied: status.applied, pending: status.pending }, () =>
    [
      `store     ${db.driver} (${where})`,
      ...(server
        ? [
            `server    ${server.running ? `running since ${server.since}, pid ${server.pid}` : "not running"}${server.startedByThisCommand ? " (started by this command)" : ""}`,
            `socket    ${server.socket}`,
          ]
        : []),
      `applied   ${status.applied.length}${status.applied.length ? ` (latest ${status.applied[status.applied.length - 1]})` : ""}`,
      `pending   ${status.pending.length ? status.pending.join(", ") : "none"}`,
    ].join("\n"),
  );
};
export default handler;
