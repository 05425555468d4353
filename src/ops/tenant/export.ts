// `btw tenant export <tenant>`: the customer's portable archive. Over one SSH connection to
// the tenant's server: which content tables exist, then one statement in the tenant's own
// database returning everything as one JSON document (SQL on stdin, never in argv). Every
// string is scrubbed of the tenant's sealed secrets before it is written; the archive is
// written beside its final name and renamed (0600: it is the customer's data).

import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import type { Ctx } from "../../cli/context.js";
import { CONTENT_TABLES_SQL, exportEntries, exportSql, parseContentTables, parseExport, redact, secretValues, type ExportManifest } from "../../core/export/archive.js";
import { tarPack } from "../../core/export/tar.js";
import { tenantLayout } from "../../core/tenant/layout.js";
import { psqlQuery } from "../../core/tenant/psql.js";
import { OperationError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { TenantRow } from "../../state/tenants.js";
import { hostFor, tenantServer } from "../tenant-context.js";
import { readAllSecrets } from "../tenant-secrets.js";

export interface ExportResult {
  tenant: string;
  file: string;
  bytes: number;
  manifest: ExportManifest;
  /** secret occurrences found in the tenant's data and replaced by [REDACTED] */
  redacted: number;
}

export async function exportTenant(ctx: Ctx, db: Db, tenant: TenantRow, file: string, now = new Date()): Promise<ExportResult> {
  const server = await tenantServer(db, tenant);
  const host = await hostFor(ctx, server);
  await host.ssh.connect();
  const argv = psqlQuery(tenantLayout(tenant.slug).containers.postgres);
  const tables = parseContentTables((await host.run(argv, { input: CONTENT_TABLES_SQL, timeoutMs: 60_000 })).stdout);
  const out = await host.run(argv, { input: exportSql(tables), timeoutMs: 30 * 60_000 });
  let data;
  try {
    data = parseExport(out.stdout);
  } catch (e) {
    throw new OperationError(`${tenant.slug}'s database answered with something that is not the export: ${(e as Error).message.split("\n")[0]}`, { code: "export-unreadable" });
  }
  const secrets = secretValues(await readAllSecrets(db, await ctx.master(), tenant.id));
  const clean = redact(data, secrets);
  const { entries, manifest } = exportEntries(tenant.slug, tenant.plan, clean.value, now, tenant.n8nImage);
  const gz = gzipSync(tarPack(entries, now));
  const tmp = `${file}.${randomBytes(4).toString("hex")}.partial`;
  try {
    await writeFile(tmp, gz, { mode: 0o600, flag: "wx" });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { tenant: tenant.slug, file, bytes: gz.length, manifest, redacted: clean.hits };
}
