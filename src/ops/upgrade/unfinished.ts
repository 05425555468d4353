import type { Db } from "../../state/db.js";
import { newestSteps } from "../../state/operations.js";

// An upgrade killed after it recorded the new image and before its journal step was done
// (putting the tenant back and its route are the last things it does) is finished by running
// the same command again — so the command must reach such a tenant even though its recorded
// image is already the target.

/** Slugs of these tenants whose newest `tenant.upgrade` step `step` (postgres, redis) is still running. */
export async function unfinishedUpgrades(db: Db, tenants: ReadonlyArray<{ id: number; slug: string }>, step: "postgres" | "redis"): Promise<Set<string>> {
  const rows = await newestSteps(db, tenants.map((t) => t.id), ["tenant.upgrade"]);
  const running = new Set(rows.filter((r) => r.step === step && r.status === "running").map((r) => Number(r.tenantId)));
  return new Set(tenants.filter((t) => running.has(Number(t.id))).map((t) => t.slug));
}
