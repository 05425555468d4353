import type { Handler } from "../../cli/program.js";
import { ConflictError } from "../../errors.js";
import { requireTenant } from "../../ops/tenant-context.js";
import { rollbackPlan, rollbackTenant } from "../../ops/workflows/rollback.js";
import { sourceFor } from "./shared.js";

// Puts a tenant's workflows back to the template each ran before its current one, in place.
const handler: Handler = async (ctx, _args, opts) => {
  const source = sourceFor(ctx, opts);
  const db = await ctx.db();
  const tenant = await requireTenant(db, String(opts.tenant));
  const only = opts.workflow ? [String(opts.workflow)] : undefined;
  if (tenant.status !== "active") {
    throw new ConflictError(`cannot roll back tenant '${tenant.slug}': it is ${tenant.status}`, { code: "tenant-wrong-status", hint: `\`btw tenant show ${tenant.slug}\`` });
  }
  if (opts.dryRun) {
    const plan = await rollbackPlan(db, tenant, source, only);
    ctx.out.result({ dryRun: true, tenant: tenant.slug, steps: plan.steps.map((s) => ({ workflow: s.key, n8nId: s.n8nId, from: s.fromVersion, to: s.toVersion })), unchanged: plan.unchanged }, () =>
      [
        ...plan.steps.map((s) => `would roll ${s.key} (${s.n8nId}) back: ${s.fromVersion} → ${s.toVersion}`),
        ...plan.unchanged.map((u) => `${u.key}: unchanged (${u.reason})`),
        "(dry run: nothing changed)",
      ].join("\n"),
    );
    return;
  }
  const r = await rollbackTenant(ctx, db, tenant, source, { only, force: Boolean(opts.force) });
  ctx.out.result(r, () =>
    [
      ...r.steps.map((s) => `${s.workflow} (${s.n8nId}): ${s.from} → ${s.to}, published`),
      ...r.unchanged.map((u) => `${u.key}: unchanged (${u.reason})`),
      `(the next \`btw workflows deploy\` for ${r.tenant} brings the manifest's versions back)`,
    ].join("\n"),
  );
};
export default handler;
