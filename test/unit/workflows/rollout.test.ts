import { describe, expect, it } from "vitest";
import {
  mapLimit,
  planWaves,
  rolloutReport,
  runWaves,
  selectRolloutTargets,
  versionLabel,
  type RolloutTenant,
  type TenantDeployResult,
} from "../../../src/core/workflows/rollout.js";

const T = (slug: string, status = "active", server: string | null = "s1"): RolloutTenant => ({ slug, status, server });
const ok = (summary = "wf2 noop, wf1 noop, wf3 noop"): TenantDeployResult => ({ outcome: "unchanged", summary });
const deployed = (summary = "wf2 update 1→2, wf1 noop, wf3 noop"): TenantDeployResult => ({ outcome: "deployed", summary });

/** A clock the fake deploys advance, so seconds are exact. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("selectRolloutTargets", () => {
  it("takes active tenants in slug order and skips the others with a reason naming the next command", () => {
    const { targets, skipped } = selectRolloutTargets([T("delta"), T("alpha"), T("beta", "suspended"), T("gamma", "failed"), T("echo", "provisioning")]);
    expect(targets.map((t) => t.slug)).toEqual(["alpha", "delta"]);
    expect(skipped.map((s) => [s.tenant.slug, s.reason])).toEqual([
      ["beta", "suspended: its n8n is stopped (`btw tenant resume beta`, then deploy)"],
      ["echo", "provisioning: provisioning is not finished (`btw tenant create echo` deploys the workflows when it completes)"],
      ["gamma", "failed: provisioning is not finished (`btw tenant create gamma` deploys the workflows when it completes)"],
    ]);
  });
});

describe("planWaves", () => {
  it("cuts consecutive waves of the wave size, the last one shorter", () => {
    expect(planWaves(["a", "b", "c", "d", "e"], 2)).toEqual([["a", "b"], ["c", "d"], ["e"]]);
    expect(planWaves(["a", "b"], 10)).toEqual([["a", "b"]]);
    expect(planWaves([], 3)).toEqual([]);
  });

  it("refuses a wave size that is not a positive integer", () => {
    expect(() => planWaves(["a"], 0)).toThrow(/positive integer/);
    expect(() => planWaves(["a"], 1.5)).toThrow(/positive integer/);
  });
});

describe("runWaves", () => {
  it("runs the tenants of a wave in parallel and the waves one after the other", async () => {
    const events: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const gates = new Map<string, () => void>();
    const run = runWaves(planWaves([T("a"), T("b"), T("c"), T("d")], 2), async (t) => {
      events.push(`start ${t.slug}`);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => gates.set(t.slug, resolve));
      inFlight--;
      events.push(`end ${t.slug}`);
      return ok();
    });
    await new Promise((r) => setTimeout(r, 5));
    // both tenants of wave 1 started; wave 2 waits for them
    expect(events).toEqual(["start a", "start b"]);
    gates.get("b")!();
    await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual(["start a", "start b", "end b"]);
    gates.get("a")!();
    await new Promise((r) => setTimeout(r, 5));
    expect(events.slice(3)).toEqual(["end a", "start c", "start d"]);
    gates.get("c")!();
    gates.get("d")!();
    const r = await run;
    expect(maxInFlight).toBe(2);
    expect(r).toMatchObject({ waves: 2, wavesRun: 2, halted: null });
    expect(r.entries.map((e) => [e.wave, e.tenant, e.outcome])).toEqual([
      [1, "a", "unchanged"],
      [1, "b", "unchanged"],
      [2, "c", "unchanged"],
      [2, "d", "unchanged"],
    ]);
  });

  it("halts after a wave with a failed tenant: its wave finishes, later waves never start", async () => {
    const started: string[] = [];
    const r = await runWaves(planWaves([T("a"), T("b"), T("c"), T("d"), T("e")], 2), async (t) => {
      started.push(t.slug);
      return t.slug === "b" ? { outcome: "failed", summary: "", error: "b's n8n container is not running on s1", code: "n8n-not-running" } : deployed();
    });
    expect(started).toEqual(["a", "b"]);
    expect(r.halted).toEqual({ wave: 1, failed: ["b"] });
    expect(r.wavesRun).toBe(1);
    expect(r.entries.map((e) => [e.wave, e.tenant, e.outcome, e.code])).toEqual([
      [1, "a", "deployed", null],
      [1, "b", "failed", "n8n-not-running"],
      [2, "c", "not-started", null],
      [2, "d", "not-started", null],
      [3, "e", "not-started", null],
    ]);
    expect(r.entries.filter((e) => e.outcome === "not-started").every((e) => e.seconds === null && e.error === null)).toBe(true);
  });

  it("a deploy that throws is a failed tenant carrying the error's first line and code", async () => {
    const boom = Object.assign(new Error("acme: wf1 changed in n8n since deployed\nmore"), { code: "workflow-drift" });
    const r = await runWaves([[T("acme")], [T("beta")]], async () => {
      throw boom;
    });
    expect(r.entries[0]).toMatchObject({ tenant: "acme", outcome: "failed", error: "acme: wf1 changed in n8n since deployed", code: "workflow-drift", summary: null });
    expect(r.entries[1]).toMatchObject({ tenant: "beta", outcome: "not-started" });
  });

  it("times each tenant from its start to its end and reports each as it finishes", async () => {
    const c = clock();
    const seen: string[] = [];
    const waveStarts: string[] = [];
    const gates = new Map<string, () => void>();
    const tick = () => new Promise((r) => setTimeout(r, 1));
    const run = runWaves([[T("a"), T("b")]], (t) => new Promise<TenantDeployResult>((resolve) => gates.set(t.slug, () => resolve(deployed()))), {
      now: c.now,
      onTenantDone: (e) => seen.push(`${e.tenant} ${e.seconds}`),
      onWaveStart: (w, of, ts) => waveStarts.push(`${w}/${of} ${ts.map((t) => t.slug).join(",")}`),
    });
    await tick();
    c.advance(1_000);
    gates.get("b")!();
    await tick();
    c.advance(5_240);
    gates.get("a")!();
    const r = await run;
    expect(waveStarts).toEqual(["1/1 a,b"]);
    expect(seen).toEqual(["b 1", "a 6.2"]);
    // entries keep the wave's order, not the finishing order
    expect(r.entries.map((e) => [e.tenant, e.seconds])).toEqual([
      ["a", 6.2],
      ["b", 1],
    ]);
  });
});

describe("rolloutReport", () => {
  const target = { wf1: "1", wf2: "2", wf3: "1" };

  it("lists every tenant with the versions it has now and groups the fleet by version", async () => {
    const run = await runWaves(planWaves([T("a"), T("b"), T("c"), T("d")], 2), async (t) =>
      t.slug === "b" ? { outcome: "failed", summary: "", error: "unreachable" } : deployed(),
    );
    const versions = new Map([
      ["a", { wf1: "1", wf2: "2", wf3: "1" }],
      ["b", { wf1: "1", wf2: "1", wf3: "1" }],
      ["c", { wf1: "1", wf2: "1", wf3: "1" }],
      ["d", { wf1: "1", wf2: "1", wf3: "1" }],
      ["s", { wf1: "1", wf2: "1", wf3: "1" }],
    ]);
    const r = rolloutReport(run, [{ tenant: T("s", "suspended"), reason: "suspended" }], versions, target, 2);
    expect(r.counts).toEqual({ deployed: 1, unchanged: 0, failed: 1, "not-started": 2, skipped: 1 });
    expect(r.halted).toEqual({ wave: 1, failed: ["b"] });
    expect(r.tenants.map((t) => [t.tenant, t.outcome, t.current, versionLabel(t.versions)])).toEqual([
      ["a", "deployed", true, "wf1@1 wf2@2 wf3@1"],
      ["b", "failed", false, "wf1@1 wf2@1 wf3@1"],
      ["c", "not-started", false, "wf1@1 wf2@1 wf3@1"],
      ["d", "not-started", false, "wf1@1 wf2@1 wf3@1"],
      ["s", "skipped", false, "wf1@1 wf2@1 wf3@1"],
    ]);
    expect(r.tenants.find((t) => t.tenant === "s")).toMatchObject({ wave: null, error: "suspended", code: "skipped" });
    // the current set first, then the largest group
    expect(r.versionGroups).toEqual([
      { versions: { wf1: "1", wf2: "2", wf3: "1" }, current: true, tenants: ["a"] },
      { versions: { wf1: "1", wf2: "1", wf3: "1" }, current: false, tenants: ["b", "c", "d", "s"] },
    ]);
    expect(r).toMatchObject({ waveSize: 2, waves: 2, wavesRun: 1 });
  });

  it("a tenant with nothing deployed is behind", () => {
    const r = rolloutReport({ entries: [], waves: 0, wavesRun: 0, halted: null }, [{ tenant: T("new", "provisioning"), reason: "provisioning" }], new Map(), target, 5);
    expect(r.tenants[0]).toMatchObject({ tenant: "new", current: false, versions: {} });
    expect(versionLabel({})).toBe("nothing deployed");
  });
});

describe("mapLimit", () => {
  it("keeps at most `limit` in flight and returns results in input order", async () => {
    let inFlight = 0;
    let max = 0;
    const out = await mapLimit([30, 5, 20, 1, 10], 2, async (ms, i) => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return i * 10;
    });
    expect(out).toEqual([0, 10, 20, 30, 40]);
    expect(max).toBe(2);
  });
});
