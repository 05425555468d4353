import type { Handler } from "../../cli/program.js";
import { UsageError } from "../../errors.js";

const handler: Handler = async (ctx, _args, opts) => {
  const db = await ctx.db();
  const { listTenants, TENANT_STATUSES } = await import("../../state/tenants.js");
  const status = opts.status as string | undefined;
  if (status && !(TENANT_STATUSES as readonly string[]).includes(status)) {
    throw new UsageError(`--status ${JSON.stringify(status)} is not a tenant status`, { hint: `one of ${TENANT_STATUSES.join(", ")}` });
  }
  const rows = await listTenants(db, {
    ...(typeof opts.server === "string" ? { serverName: opts.server } : {}),
    ...(status ? { status: status as (typeof TENANT_STATUSES)[number] } : {}),
  });
  ctx.out.result({ tenants: rows }, () =>
    rows.length === 0
      ? "no tenants"
      : ctx.out.table(rows, [
          { header: "tenant", value: (t) => t.slug },
          { header: "plan", value: (t) => t.plan },
          { header: "server", value: (t) => t.serverName },
          { header: "status", value: (t) => (t.status === "failed" ? `failed at ${t.failedStep}` : t.status) },
          { header: "subnet", value: (t) => t.subnet },
          { header: "created", value: (t) => new Date(t.createdAt).toISOString().slice(0, 10) },
          { header: "error", value: (t) => t.error },
        ]),
  );
};
export default handler;
