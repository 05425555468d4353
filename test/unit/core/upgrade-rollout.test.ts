import { describe, expect, it } from "vitest";
import type { Ctx } from "../../../src/cli/context.js";
import { upgradeFleet } from "../../../src/ops/upgrade/rollout.js";
import type { TenantUpgradeResult } from "../../../src/ops/upgrade/n8n.js";
import type { BackupStorage } from "../../../src/remote/backup-storage.js";
import type { Db } from "../../../src/state/db.js";

// The rollout is shared by upgrade n8n, postgres and redis: each passes what upgrading one
// tenant means; waves, the halt and the report are the same.
describe("upgradeFleet with another per-tenant upgrade", () => {
  const tenants = ["a", "b", "c"].map((slug) => ({ slug, server: "s1" }));
  const one = (failing: string[], calls: string[]) => async (slug: string): Promise<TenantUpgradeResult> => {
    calls.push(slug);
    const ok = !failing.includes(slug);
    return { tenant: slug, server: "s1", from: "pg:15", to: "pg:17", ok, outcome: ok ? "upgraded" : "rolled-back", backup: null, timings: {}, seconds: 0 };
  };
  const run = (upgradeOne: (slug: string) => Promise<TenantUpgradeResult>, maxFailures: number) =>
    upgradeFleet({} as Ctx, {} as Db, {} as BackupStorage, { target: "pg:17", tenants, waveSize: 1, canary: 0, canaryWatchSec: 0, maxFailures, readyTimeoutSec: 60, step: () => {}, upgradeOne });

  it("halts after the first failure: the tenants after it are not reached", async () => {
    const calls: string[] = [];
    const r = await run(one(["b"], calls), 0);
    expect(calls).toEqual(["a", "b"]);
    expect(r).toMatchObject({ ok: false, halted: true, notReached: ["c"] });
    expect(r.results.map((x) => [x.tenant, x.outcome, x.wave])).toEqual([["a", "upgraded", "wave 1"], ["b", "rolled-back", "wave 2"]]);
  });
  it("goes on while failures stay within --max-failures", async () => {
    const calls: string[] = [];
    const r = await run(one(["b"], calls), 1);
    expect(calls).toEqual(["a", "b", "c"]);
    expect(r).toMatchObject({ ok: false, halted: false, notReached: [] });
  });
});
