import { describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { planRebalance, type RebalanceServer, type RebalanceTenant } from "../../../src/core/rebalance.js";

const config = configSchema.parse({ domain: "example.com" });
const GiB = 2 ** 30;
// 8 GiB: 7168 MiB allocatable, memory limits up to 10752 (starter 1152, pro 2304)
const server = (name: string, memGb = 8, extra: Partial<RebalanceServer> = {}): RebalanceServer => ({
  name, status: "active", isolated: true, capacity: 100, facts: { cpus: 4, memTotalBytes: memGb * GiB, diskFreeBytes: 100 * GiB }, ...extra,
});
const tenants = (server: string, plan: string, n: number, prefix = server): RebalanceTenant[] =>
  Array.from({ length: n }, (_, i) => ({ slug: `${prefix}-${plan}-${i}`, plan, weight: plan === "pro" ? 2 : 1, server, status: "active" }));

describe("planRebalance", () => {
  it("a fleet under its policy needs no move", () => {
    expect(planRebalance({ servers: [server("a"), server("b")], tenants: tenants("a", "starter", 5), plans: config.plans })).toEqual({ moves: [], unresolved: [] });
  });

  it("the smallest set: the tenant that may use the most memory moves first, to the server with the most room", () => {
    // a: 9 starters (10368) + 1 pro (2304) = 12672 > 10752; moving the pro alone fixes it
    const r = planRebalance({ servers: [server("a"), server("b"), server("c", 16)], tenants: [...tenants("a", "starter", 9), ...tenants("a", "pro", 1)], plans: config.plans });
    expect(r.moves).toEqual([{ tenant: "a-pro-0", plan: "pro", from: "a", to: "c", why: ["memory"] }]);
    expect(r.unresolved).toEqual([]);
  });

  it("several moves when one is not enough, spread by room; nothing moves twice", () => {
    // a: 14 starters = 16128 MiB of limits; under 10752 needs 5 to leave
    const r = planRebalance({ servers: [server("a"), server("b"), server("c")], tenants: tenants("a", "starter", 14), plans: config.plans });
    expect(r.moves).toHaveLength(5);
    expect(new Set(r.moves.map((m) => m.tenant)).size).toBe(5);
    expect(r.moves.map((m) => m.to)).toEqual(["b", "c", "b", "c", "b"]);
    expect(r.unresolved).toEqual([]);
  });

  it("skips targets that are not ready, not isolated, short of units or never checked", () => {
    const r = planRebalance({
      servers: [server("a"), server("draining", 32, { status: "draining" }), server("open", 32, { isolated: false }), server("tiny-units", 32, { capacity: 1 }), server("unchecked", 32, { facts: null }), server("ok")],
      tenants: [...tenants("a", "starter", 9), ...tenants("a", "pro", 1)],
      plans: config.plans,
    });
    expect(r.moves.map((m) => m.to)).toEqual(["ok"]);
  });

  it("what cannot be fixed is said: no room anywhere; a tenant mid-migration does not move; low disk is not a move's to fix", () => {
    const full = planRebalance({ servers: [server("a"), server("b")], tenants: [...tenants("a", "starter", 10), ...tenants("b", "starter", 9)], plans: config.plans });
    expect(full.moves).toEqual([]);
    expect(full.unresolved).toEqual([{ server: "a", over: ["memory"], reason: "no other server has room for any of its tenants: add a server" }]);
    const busy = planRebalance({ servers: [server("a"), server("b")], tenants: tenants("a", "starter", 10).map((t) => ({ ...t, status: "migrating" })), plans: config.plans });
    expect(busy.unresolved[0]!.reason).toMatch(/no tenant on it can move/);
    const disk = planRebalance({ servers: [server("a", 8, { facts: { cpus: 4, memTotalBytes: 8 * GiB, diskFreeBytes: 5 * GiB } }), server("b")], tenants: tenants("a", "starter", 2), plans: config.plans });
    expect(disk).toEqual({ moves: [], unresolved: [{ server: "a", over: ["disk"], reason: "free disk below the floor: prune images or grow the disk, then `btw server check`" }] });
  });
});
