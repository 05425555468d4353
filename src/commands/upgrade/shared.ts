import type { Ctx } from "../../cli/context.js";
import { UsageError } from "../../errors.js";
import type { Db } from "../../state/db.js";
import type { TenantListRow } from "../../state/tenants.js";

/** The tenants named by --tenant (repeatable or comma-separated), --all or --server (exactly one). */
export async function selectTenants(ctx: Ctx, db: Db, opts: Record<string, unknown>, verb: string): Promise<TenantListRow[]> {
  const named = ([] as string[]).concat((opts.tenant as string[] | string | undefined) ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
  const modes = [named.length > 0, opts.all === true, typeof opts.server === "string"].filter(Boolean).length;
  if (modes !== 1) throw new UsageError(`name the tenants to ${verb}: --tenant <name>…, --all or --server <server>`);
  const { listTenants } = await import("../../state/tenants.js");
  const all = await listTenants(db);
  if (named.length) {
    const missing = named.filter((n) => !all.some((t) => t.slug === n));
    if (missing.length) throw new UsageError(`unknown tenant(s): ${missing.join(", ")}`, { code: "tenant-not-found", hint: "`btw tenant list` shows the tenants" });
    return all.filter((t) => named.includes(t.slug));
  }
  if (typeof opts.server === "string") {
    const { requireServer } = await import("../../ops/server/context.js");
    const s = await requireServer(db, opts.server);
    return all.filter((t) => t.serverId === s.id);
  }
  return all;
}

export function intOpt(v: unknown, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be a whole number ≥ ${min}`);
  return n;
}
