// The pieces of a migration's cutover at the edge that need no server: the unavailability
// window reported by `tenant migrate` (human and --json), and the switch of every edge proxy
// (all tried, the route counted as switched only when every proxy took it).
import { describe, expect, it } from "vitest";
import { describeWindow, unavailabilityWindow } from "../../../src/core/tenant/migration-window.js";
import { requireAllSynced, syncEach } from "../../../src/ops/edge/switch.js";

describe("the unavailability window of a migration", () => {
  it("runs from the source stopping to the route switched, in seconds", () => {
    const w = unavailabilityWindow("2026-12-01T10:00:00.000Z", Date.parse("2026-12-01T10:00:04.250Z"));
    expect(w).toEqual({ since: "2026-12-01T10:00:00.000Z", until: "2026-12-01T10:00:04.250Z", seconds: 4.25 });
  });

  it("is unknown when the journal has no start (rows of older btw) or an unreadable one", () => {
    expect(unavailabilityWindow(undefined, Date.now())).toBeNull();
    expect(unavailabilityWindow("not a time", Date.now())).toBeNull();
  });

  it("a resumed migration counts the time it was killed (the tenant was down all along)", () => {
    const w = unavailabilityWindow("2026-12-01T10:00:00.000Z", Date.parse("2026-12-01T10:05:00.000Z"));
    expect(w?.seconds).toBe(300);
  });

  it("the human line names the window and, in edge mode, the proxies switched", () => {
    const w = { since: "a", until: "b", seconds: 3.14 };
    expect(describeWindow(w, null)).toBe("unavailable 3.1 s");
    expect(describeWindow(w, ["btw-edge-1", "btw-edge-2"])).toBe("unavailable 3.1 s, edge route switched on 2 proxies");
    expect(describeWindow(w, ["btw-edge-1"])).toBe("unavailable 3.1 s, edge route switched on 1 proxy");
    expect(describeWindow(null, null)).toBe("unavailable ? s");
  });
});

describe("switching the edge route on every edge proxy", () => {
  const targets = [
    { name: "edge-1", address: "10.0.0.3" },
    { name: "edge-2", address: "10.0.0.4" },
  ];

  it("tries every proxy even when one fails, and reports each", async () => {
    const tried: string[] = [];
    const results = await syncEach(targets, async (t) => {
      tried.push(t.name);
      if (t.name === "edge-1") throw new Error("caddy validate: bad\nmore");
      return { routes: 7 };
    });
    expect(tried.sort()).toEqual(["edge-1", "edge-2"]);
    expect(results).toEqual([
      { proxy: "edge-1", ok: false, error: "caddy validate: bad" },
      { proxy: "edge-2", ok: true, routes: 7 },
    ]);
    expect(() => requireAllSynced(results)).toThrow(/1 of 2 edge proxies did not take the new routes: edge-1 \(caddy validate: bad\)/);
  });

  it("counts the route as switched when every proxy took it", async () => {
    const results = await syncEach(targets, async () => ({ routes: 3 }));
    expect(() => requireAllSynced(results)).not.toThrow();
  });
});

describe("the cutover's order (after the state names the target)", () => {
  const steps = (log: string[], edge: boolean, clock: number[]) => ({
    routeTarget: async () => void log.push("target routed"),
    switchEdge: edge ? async () => (log.push("edge switched"), ["edge-1", "edge-2"]) : null,
    recordEdge: async (at: string, proxies: string[]) => void log.push(`journal: edge ${proxies.join(",")} at ${at}`),
    routeSource: async () => void log.push("source dropped"),
    now: () => clock.shift()!,
  });

  it("edge mode: target routed, every edge proxy switched and journaled, window closed, then the source drops the tenant", async () => {
    const { cutover } = await import("../../../src/ops/tenant/migrate/cutover.js");
    const log: string[] = [];
    const r = await cutover("2026-12-01T10:00:00.000Z", steps(log, true, [Date.parse("2026-12-01T10:00:03.000Z"), Date.parse("2026-12-01T10:00:03.500Z")]));
    expect(log).toEqual(["target routed", "edge switched", "journal: edge edge-1,edge-2 at 2026-12-01T10:00:03.000Z", "source dropped"]);
    expect(r).toEqual({ edgeProxies: ["edge-1", "edge-2"], unavailable: { since: "2026-12-01T10:00:00.000Z", until: "2026-12-01T10:00:03.500Z", seconds: 3.5 } });
  });

  it("direct mode: no edge step, the window closes when the target's proxy routes it", async () => {
    const { cutover } = await import("../../../src/ops/tenant/migrate/cutover.js");
    const log: string[] = [];
    const r = await cutover("2026-12-01T10:00:00.000Z", steps(log, false, [Date.parse("2026-12-01T10:00:02.000Z")]));
    expect(log).toEqual(["target routed", "source dropped"]);
    expect(r).toEqual({ edgeProxies: null, unavailable: { since: "2026-12-01T10:00:00.000Z", until: "2026-12-01T10:00:02.000Z", seconds: 2 } });
  });

  it("an edge proxy that fails stops the cutover before the source drops the tenant (the resume re-runs it)", async () => {
    const { cutover } = await import("../../../src/ops/tenant/migrate/cutover.js");
    const log: string[] = [];
    const s = { ...steps(log, true, [0, 0]), switchEdge: async () => Promise.reject(new Error("1 of 2 edge proxies did not take the new routes")) };
    await expect(cutover("2026-12-01T10:00:00.000Z", s)).rejects.toThrow(/did not take/);
    expect(log).toEqual(["target routed"]);
  });
});

describe("the edge proxies to switch", () => {
  it("are edge.proxies when the config lists them (no Terraform asked)", async () => {
    const { edgeTargets } = await import("../../../src/ops/edge/switch.js");
    const { configSchema } = await import("../../../src/config/schema.js");
    const config = configSchema.parse({ domain: "example.com", proxy: { mode: "edge" }, edge: { proxies: [{ name: "lab-edge", host: "192.168.56.30" }] } });
    expect(await edgeTargets({ config } as never)).toEqual([{ name: "lab-edge", address: "192.168.56.30" }]);
  });

  it("edge.proxies refuses a host that could carry options or spaces", async () => {
    const { configSchema } = await import("../../../src/config/schema.js");
    expect(() => configSchema.parse({ domain: "example.com", edge: { proxies: [{ name: "e", host: "a b" }] } })).toThrow();
    expect(() => configSchema.parse({ domain: "example.com", edge: { proxies: [{ name: "e", host: "-oProxyCommand" }] } })).toThrow();
    expect(() => configSchema.parse({ domain: "example.com", edge: { proxies: [{ name: "-oProxyCommand=x", host: "10.0.0.1" }] } })).toThrow();
  });
});
