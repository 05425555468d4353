import type { Handler } from "../../cli/program.js";
import { ConflictError } from "../../errors.js";
import { requireServer } from "../../ops/server/context.js";

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const server = await requireServer(db, String(name));
  const { listTenants } = await import("../../state/tenants.js");
  const live = await listTenants(db, { serverId: server.id });
  if (live.length) {
    throw new ConflictError(`server '${server.name}' still holds ${live.length} tenant(s): ${live.map((t) => t.slug).join(", ")}`, {
      code: "server-not-empty",
      hint: `move them first (\`btw tenant migrate <name> --to <server>\`) or delete them`,
    });
  }
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, remove: server.name }, () => `would unregister server ${server.name} (nothing on the host is touched)`);
    return;
  }
  await ctx.confirm(`Unregister server ${server.name} (${server.host})?`, opts.yes as boolean | undefined);
  const lock = await db.lock({ kind: "server", name: server.name });
  try {
    const { removeServer } = await import("../../state/servers.js");
    await db.transaction((tx) => removeServer(tx, server.id));
  } finally {
    await lock.release();
  }
  await ctx.audit("server.remove", server.name, { host: server.host, port: server.port });
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ removed: server.name }, () => {
    ctx.out.success(`server ${server.name} unregistered`);
    return "";
  });
};
export default handler;
