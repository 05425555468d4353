import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Handler } from "../../cli/program.js";
import { UsageError } from "../../errors.js";
import { requireTenant } from "../../ops/tenant-context.js";

// `btw tenant export <tenant> [--out FILE]`: the customer's archive (tar.gz) of workflows,
// credentials' names and types, executions' metadata and content; no secret inside.

const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const tenant = await requireTenant(db, String(name));
  if (tenant.status !== "active" && tenant.status !== "suspended") {
    throw new UsageError(`${tenant.slug} is ${tenant.status}: only an active or suspended tenant's database can be exported`, { code: "tenant-not-exportable" });
  }
  const { defaultExportFile } = await import("../../core/export/archive.js");
  const now = new Date();
  const file = resolve(typeof opts.out === "string" ? opts.out : defaultExportFile(tenant.slug, now));
  if (existsSync(file)) throw new UsageError(`${file} exists; export never overwrites`, { code: "export-file-exists", hint: "choose another --out" });
  const { exportTenant } = await import("../../ops/tenant/export.js");
  const r = await exportTenant(ctx, db, tenant, file, now);
  await ctx.audit("tenant.export", tenant.slug, { file: r.file, bytes: r.bytes, files: r.manifest.files, redacted: r.redacted });
  ctx.out.result(r, () =>
    [
      `${r.file}: ${r.bytes} bytes`,
      ...r.manifest.files.map((f) => `  ${f.path}: ${f.rows} row(s)`),
      ...(r.redacted ? [`  ${r.redacted} occurrence(s) of the tenant's secrets found in its data were replaced by [REDACTED]`] : []),
    ].join("\n"),
  );
};
export default handler;
