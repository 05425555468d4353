import type { Handler } from "../../cli/program.js";
import { composeExec } from "../../core/commands/compose.js";
import type { TenantService } from "../../core/tenant/layout.js";
import { hostFor, requireTenant, tenantServer } from "../../ops/tenant-context.js";

// Direct access for debugging: `btw tenant exec acme -- psql -U n8n`. Interactive (remote
// TTY) when our stdin is a terminal; otherwise a pipe, so scripts can feed it. The exit code
// is the remote command's.
const handler: Handler = async (ctx, [name, command], opts) => {
  const db = await ctx.db();
  const t = await requireTenant(db, String(name));
  const tty = ctx.io.stdinIsTTY && !ctx.globals.nonInteractive;
  const argv = composeExec(t.slug, ((opts.service as string | undefined) ?? "n8n") as TenantService, command as string[], { tty });
  const host = await hostFor(ctx, await tenantServer(db, t));
  await ctx.audit("tenant.exec", t.slug, { service: opts.service ?? "n8n", program: (command as string[])[0] });
  const child = host.ssh.spawn(argv, { tty });
  ctx.io.stdin.pipe(child.stdin);
  child.stdout.pipe(ctx.io.stdout, { end: false });
  child.stderr.pipe(ctx.io.stderr, { end: false });
  const r = await child.result({ allowFailure: true });
  ctx.io.stdin.unpipe(child.stdin);
  return r.exitCode;
};
export default handler;
