import { describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { planRebalance, type RebalanceServer, type RebalanceTenant } from "../../../src/core/rebalance.js";

const config = configSchema.parse({ domain: "example.com" });
const GiB = 2 ** 30;
// 8 GiB: 7168 MiB allocatable, memory limits up to 10752 (starter 1664, pro 2816, each with its
// task runner's 512); each reserves 720 (its runner's 96 included)
const server = (name: string, memGb = 8, extra: Partial<RebalanceServer> = {}): RebalanceServer => ({
  name, status: "active", isolated: true, capacity: 100, facts: { cpus: 4, memTotalBytes: memGb * GiB, diskFreeBytes: 100 * GiB }, ...extra,
});
const tenants = (server: string, plan: string, n: number, prefix = server): RebalanceTenant[] =>
  Array.from({ length: n }, (_, i) => ({ slug: `${prefix}-${plan}-${i}`, plan, weight: plan === "pro" ? 2 : 1, server, status: "active" }));

describe("planRebalance", () => {
  it("a fleet under its policy needs no move", () => {
    // a: 5 starters = 8320 MiB of limits ≤ 10752, 3600 reserved ≤ 7168
    expect(planRebalance({ servers: [server("a"), server("b")], tenants: tenants("a", "starter", 5), plans: config.plans })).toEqual({ moves: [], unresolved: [] });
  });

  it("the smallest set: the tenant that may use the most memory moves first, to the server with the most room", () => {
    // a: 6 starters (9984) + 1 pro (2816) = 12800 > 10752; moving the pro alone fixes it (9984),
    // moving one starter would not (11136)
    const r = planRebalance({ servers: [server("a"), server("b"), server("c", 16)], tenants: [...tenants("a", "starter", 6), ...tenants("a", "pro", 1)], plans: config.plans });
    expect(r.moves).toEqual([{ tenant: "a-pro-0", plan: "pro", from: "a", to: "c", why: ["memory"] }]);
    expect(r.unresolved).toEqual([]);
  });

  it("several moves when one is not enough, spread by room; nothing moves twice", () => {
    // a: 11 starters = 18304 MiB of limits (7920 reserved); under 10752 needs 5 to leave
    // (6 × 1664 = 9984, 7 would be 11648)
    const r = planRebalance({ servers: [server("a"), server("b"), server("c")], tenants: tenants("a", "starter", 11), plans: config.plans });
    expect(r.moves).toHaveLength(5);
    expect(new Set(r.moves.map((m) => m.tenant)).size).toBe(5);
    expect(r.moves.map((m) => m.to)).toEqual(["b", "c", "b", "c", "b"]);
    expect(r.unresolved).toEqual([]);
  });

  it("skips targets that are not ready, not isolated, short of units or never checked", () => {
    const r = planRebalance({
      servers: [server("a"), server("draining", 32, { status: "draining" }), server("open", 32, { isolated: false }), server("tiny-units", 32, { capacity: 1 }), server("unchecked", 32, { facts: null }), server("ok")],
      // as above: the pro moves, and only "ok" may take it ("tiny-units" has 1 unit, a pro needs 2)
      tenants: [...tenants("a", "starter", 6), ...tenants("a", "pro", 1)],
      plans: config.plans,
    });
    expect(r.moves.map((m) => m.to)).toEqual(["ok"]);
  });

  it("what cannot be fixed is said: no room anywhere; a tenant mid-migration does not move; low disk is not a move's to fix", () => {
    // a: 7 starters = 11648 > 10752; b: 6 starters = 9984, a 7th would put it over too
    const full = planRebalance({ servers: [server("a"), server("b")], tenants: [...tenants("a", "starter", 7), ...tenants("b", "starter", 6)], plans: config.plans });
    expect(full.moves).toEqual([]);
    expect(full.unresolved).toEqual([{ server: "a", over: ["memory"], reason: "no other server has room for any of its tenants: add a server" }]);
    const busy = planRebalance({ servers: [server("a"), server("b")], tenants: tenants("a", "starter", 7).map((t) => ({ ...t, status: "migrating" })), plans: config.plans });
    expect(busy.unresolved[0]!.reason).toMatch(/no tenant on it can move/);
    const disk = planRebalance({ servers: [server("a", 8, { facts: { cpus: 4, memTotalBytes: 8 * GiB, diskFreeBytes: 5 * GiB } }), server("b")], tenants: tenants("a", "starter", 2), plans: config.plans });
    expect(disk).toEqual({ moves: [], unresolved: [{ server: "a", over: ["disk"], reason: "free disk below the floor: prune images or grow the disk, then `btw server check`" }] });
  });
});
