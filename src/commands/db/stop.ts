import { join } from "node:path";
import type { Handler } from "../../cli/program.js";
import type { Ctx } from "../../cli/context.js";
import { BusyError, isBtwError, UsageError } from "../../errors.js";

// Stops the embedded state server. It refuses while other btw commands are connected (their
// work would be cut off) unless --force; the next command starts the server again.
const handler: Handler = async (ctx, _args, opts) => {
  if (configuredUrl(ctx)) {
    throw new UsageError("database.url is set: the state lives on that server, which btw does not run", { hint: "nothing to stop" });
  }
  const { storeLayout } = await import("../../state/embedded/layout.js");
  const { readServerStatus, stopServer } = await import("../../state/embedded/server.js");
  const layout = storeLayout(join(ctx.home, "state"));
  const st = readServerStatus(layout);
  if (!st.alive) {
    ctx.out.result({ stopped: false, running: false }, () => "the embedded state server is not running");
    return;
  }
  if (!opts.force) {
    const { listSessions } = await import("../../state/embedded/sessions.js");
    const others = await listSessions(layout).catch(() => []);
    if (others.length) {
      throw new BusyError(`the embedded state server is in use by ${others.map((s) => s.who).join(", ")}`, {
        hint: "retry when they have finished, or pass --force (their commands fail and can be re-run)",
        details: { sessions: others },
      });
    }
  }
  const r = await stopServer(layout);
  ctx.out.result({ stopped: r.wasRunning, pid: r.pid }, () => `stopped the embedded state server (pid ${r.pid})`);
};
export default handler;

/** Without a config file there is no database.url: the server to stop can only be the embedded one. */
function configuredUrl(ctx: Ctx): string | undefined {
  try {
    return ctx.config.database.url;
  } catch (e) {
    if (isBtwError(e) && e.code === "config-missing") return undefined;
    throw e;
  }
}
