import type { Handler } from "../../cli/program.js";
import { ExitCode, UsageError } from "../../errors.js";

// New Postgres/Redis passwords and n8n API key for one live tenant, or for every tenant whose
// secrets are older than secrets.rotationDays (--due, for cron). One tenant at a time.
const handler: Handler = async (ctx, [name], opts) => {
  const due = opts.due === true;
  if ((name === undefined) === !due) throw new UsageError("name one tenant or pass --due", { hint: "btw tenant secrets rotate <tenant> | btw tenant secrets rotate --due" });
  const db = await ctx.db();
  const { dueTenants, rotateTenantSecrets } = await import("../../ops/tenant/secrets-rotate.js");
  const days = ctx.config.secrets.rotationDays;
  let targets: string[];
  if (due) targets = (await dueTenants(db, days)).map((d) => d.tenant);
  else {
    const { requireTenant } = await import("../../ops/tenant-context.js");
    targets = [(await requireTenant(db, String(name))).slug];
  }
  if (opts.dryRun) {
    return void ctx.out.result({ dryRun: true, tenants: targets, rotationDays: days }, () =>
      targets.length ? `would rotate POSTGRES_PASSWORD, REDIS_PASSWORD, N8N_API_KEY of ${targets.join(", ")} (dry run: nothing was changed)` : `no tenant has secrets ${days} days old or older`,
    );
  }
  const results: Array<{ tenant: string; ok: boolean; error?: string; resumed?: boolean }> = [];
  for (const slug of targets) {
    try {
      const r = await rotateTenantSecrets(ctx, db, slug, (s) => ctx.out.info(`${slug}: ${s}`));
      results.push({ tenant: slug, ok: true, resumed: r.resumed });
    } catch (e) {
      if (!due) throw e;
      results.push({ tenant: slug, ok: false, error: (e as Error).message });
      ctx.out.warn(`${slug}: ${(e as Error).message} (re-run \`btw tenant secrets rotate ${slug}\` to finish)`);
    }
  }
  ctx.out.result({ rotated: results.filter((r) => r.ok).map((r) => r.tenant), results }, () =>
    results.length ? results.map((r) => (r.ok ? `✓ ${r.tenant}: POSTGRES_PASSWORD, REDIS_PASSWORD, N8N_API_KEY rotated` : `✗ ${r.tenant}: ${r.error}`)).join("\n") : `no tenant has secrets ${days} days old or older`,
  );
  if (results.some((r) => !r.ok)) return ExitCode.partial;
};
export default handler;
