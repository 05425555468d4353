import type { Ctx } from "../../cli/context.js";
import { planWaves, shouldHalt } from "../../core/upgrade/plan.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import type { Db } from "../../state/db.js";
import { upgradeTenantN8n, type TenantUpgradeResult } from "./n8n.js";

// A fleet upgrade: canary tenants first, watched for a while, then waves; it halts as soon as
// more than `maxFailures` tenants failed (each failed tenant rolled back on its own). Every
// tenant not reached is reported as such. Re-running the same command converges: tenants
// already on the target are `unchanged`, interrupted ones resume from their journal.

export interface FleetUpgradeOptions {
  target: string;
  tenants: Array<{ slug: string; server: string }>;
  waveSize: number;
  canary: number;
  canaryWatchSec: number;
  maxFailures: number;
  readyTimeoutSec: number;
  step: (s: string) => void;
  /** what upgrading one tenant means (default: its n8n to `target`; `upgrade postgres` passes its own) */
  upgradeOne?: (slug: string) => Promise<TenantUpgradeResult>;
}

export interface FleetUpgradeReport {
  ok: boolean;
  halted: boolean;
  target: string;
  seconds: number;
  results: Array<TenantUpgradeResult & { wave: string }>;
  notReached: string[];
}

export async function upgradeFleet(ctx: Ctx, db: Db, storage: BackupStorage, o: FleetUpgradeOptions): Promise<FleetUpgradeReport> {
  const t0 = Date.now();
  const { canary, waves } = planWaves(o.tenants, { waveSize: o.waveSize, canary: o.canary });
  const groups: Array<{ name: string; tenants: typeof canary }> = [...(canary.length ? [{ name: "canary", tenants: canary }] : []), ...waves.map((w, i) => ({ name: `wave ${i + 1}`, tenants: w }))];
  const results: FleetUpgradeReport["results"] = [];
  let failures = 0;
  let halted = false;
  for (const [gi, g] of groups.entries()) {
    o.step(`${g.name}: ${g.tenants.map((t) => t.slug).join(", ")}`);
    const one = o.upgradeOne ?? ((slug: string) => upgradeTenantN8n(ctx, db, storage, slug, o.target, { readyTimeoutSec: o.readyTimeoutSec, step: o.step }));
    const done = await Promise.all(g.tenants.map((t) => one(t.slug)));
    for (const r of done) results.push({ ...r, wave: g.name });
    failures += done.filter((r) => !r.ok).length;
    if (g.name === "canary" && failures === 0 && o.canaryWatchSec > 0 && gi < groups.length - 1) {
      o.step(`canary: watching ${o.canaryWatchSec} s before the first wave`);
      await new Promise((r) => setTimeout(r, o.canaryWatchSec * 1000));
      const { watchReady } = await import("./watch.js");
      for (const r of done.filter((x) => x.outcome === "upgraded")) {
        const problem = await watchReady(ctx, db, r.tenant);
        if (problem) {
          failures++;
          results.push({ ...r, ok: false, outcome: "failed", error: `canary unhealthy after the watch: ${problem}`, wave: "canary watch" });
        }
      }
    }
    if (shouldHalt(failures, o.maxFailures)) {
      halted = gi < groups.length - 1;
      break;
    }
  }
  const reached = new Set(results.map((r) => r.tenant));
  const notReached = o.tenants.map((t) => t.slug).filter((s) => !reached.has(s));
  return { ok: failures === 0, halted, target: o.target, seconds: (Date.now() - t0) / 1000, results, notReached };
}
