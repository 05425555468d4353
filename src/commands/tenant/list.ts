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
          { header: "n8n", value: (t) => tag(t.n8nImage) },
          { header: "postgres", value: (t) => tag(t.postgresImage) },
          { header: "subnet", value: (t) => t.subnet },
          { header: "created", value: (t) => new Date(t.createdAt).toISOString().slice(0, 10) },
          { header: "error", value: (t) => t.error },
        ]),
  );
};
/** "registry:5000/n8nio/n8n:2.8.4" → "2.8.4"; a digest or an untagged ref as it is. */
export function tag(image: string | null): string {
  if (!image) return "?";
  const at = image.lastIndexOf("@");
  if (at >= 0) return image.slice(at + 1, at + 20);
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/") ? image.slice(colon + 1) : image;
}
export default handler;
