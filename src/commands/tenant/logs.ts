import type { Handler } from "../../cli/program.js";
import { composeLogs } from "../../core/commands/compose.js";
import type { TenantService } from "../../core/tenant/layout.js";
import { hostFor, requireTenant, tenantServer } from "../../ops/tenant-context.js";

// Streams the stack's logs (compose logs) to stdout; --follow runs until interrupted.
const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const t = await requireTenant(db, String(name));
  const argv = composeLogs(t.slug, {
    ...(opts.service ? { service: opts.service as TenantService } : {}),
    ...(typeof opts.since === "string" ? { since: opts.since } : {}),
    ...(opts.tail !== undefined ? { tail: opts.tail as number } : {}),
    follow: opts.follow === true,
    timestamps: opts.timestamps === true,
  });
  const host = await hostFor(ctx, await tenantServer(db, t));
  const child = host.ssh.spawn(argv);
  child.stdin.end();
  child.stdout.pipe(ctx.io.stdout, { end: false });
  child.stderr.pipe(ctx.io.stderr, { end: false });
  const stop = () => child.stop();
  process.once("SIGINT", stop);
  try {
    const r = await child.result({ allowFailure: true });
    return r.exitCode === 0 ? 0 : 1;
  } catch (e) {
    if ((e as { code?: string }).code === "remote-stopped") return 0; // Ctrl-C on --follow
    throw e;
  } finally {
    process.off("SIGINT", stop);
  }
};
export default handler;
