import { describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { DEFAULT_SPREAD, planRebalance, type RebalanceServer, type RebalanceTenant } from "../../../src/core/rebalance.js";

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

  describe("--spread: measured load evened out between servers under their policy (noisy neighbours)", () => {
    // 8 GiB and 4 CPUs: 3.5 CPUs and 7168 MiB allocatable
    const busy = (server: string, n: number, cpu: number, memoryMb = 300, prefix = server): RebalanceTenant[] =>
      tenants(server, "starter", n, prefix).map((t) => ({ ...t, use: { cpu, memoryMb } }));

    it("moves one busy tenant from a server using 69 % of its CPU to the quiet one, then stops below the busy share", () => {
      const input = { servers: [server("a"), server("b")], tenants: [...busy("a", 3, 0.8), ...busy("b", 1, 0.1)], plans: config.plans };
      // without --spread the fleet is under its policy: nothing to do
      expect(planRebalance(input)).toEqual({ moves: [], unresolved: [] });
      const r = planRebalance({ ...input, spread: DEFAULT_SPREAD });
      // a: 2.4 / 3.5 = 0.69 → 1.6 / 3.5 = 0.46; b: 0.1 / 3.5 = 0.03 → 0.9 / 3.5 = 0.26
      expect(r).toEqual({ moves: [{ tenant: "a-starter-0", plan: "starter", from: "a", to: "b", why: ["cpu"], spread: { resource: "cpu", from: [0.69, 0.46], to: [0.03, 0.26] } }], unresolved: [] });
      // the target counts the moving tenant at its measured use, not its plan's smaller reservation:
      // b with 6 × 0.55 CPUs measured (3.3 of 3.5) cannot take a tenant using 0.8
      const nearlyFull = planRebalance({ servers: [server("a"), server("b")], tenants: [...busy("a", 4, 0.8), ...busy("b", 6, 0.55)], plans: config.plans, spread: DEFAULT_SPREAD });
      expect(nearlyFull.moves).toEqual([]);
    });

    it("spreads to the quietest server each time, bounded by maxMoves; an empty server counts as idle", () => {
      // a: 6 × 0.5 = 3.0 CPUs (0.86); b and c empty
      const input = { servers: [server("a"), server("b"), server("c")], tenants: busy("a", 6, 0.5), plans: config.plans };
      const r = planRebalance({ ...input, spread: DEFAULT_SPREAD });
      expect(r.moves.map((m) => [m.tenant, m.to, m.spread!.from])).toEqual([
        ["a-starter-0", "b", [0.86, 0.71]],
        ["a-starter-1", "c", [0.71, 0.57]],
      ]);
      expect(planRebalance({ ...input, spread: { ...DEFAULT_SPREAD, maxMoves: 1 } }).moves).toHaveLength(1);
    });

    it("memory counts as well: the busier resource of the two decides", () => {
      // a: 4 × 1500 MiB = 6000 / 7168 = 0.84 of its memory, little CPU; b: 200 MiB
      const r = planRebalance({ servers: [server("a"), server("b")], tenants: [...busy("a", 4, 0.05, 1500), ...busy("b", 1, 0.05, 200)], plans: config.plans, spread: DEFAULT_SPREAD });
      // 0.84 → 0.63 (still busy, and 0.39 above b) → 0.42, b 0.03 → 0.24 → 0.45: even
      expect(r.moves.map((m) => [m.tenant, m.to, m.why, m.spread!.from, m.spread!.to])).toEqual([
        ["a-starter-0", "b", ["memory"], [0.84, 0.63], [0.03, 0.24]],
        ["a-starter-1", "b", ["memory"], [0.63, 0.42], [0.24, 0.45]],
      ]);
    });

    it("no move that only swaps which server is busy, none within the margin, none below the busy share", () => {
      // one tenant using 2.5 CPUs: moving it makes b what a was
      expect(planRebalance({ servers: [server("a"), server("b")], tenants: busy("a", 1, 2.5), plans: config.plans, spread: DEFAULT_SPREAD }).moves).toEqual([]);
      // a 0.69, b 0.51: within 0.25 of each other
      expect(planRebalance({ servers: [server("a"), server("b")], tenants: [...busy("a", 3, 0.8), ...busy("b", 2, 0.9)], plans: config.plans, spread: DEFAULT_SPREAD }).moves).toEqual([]);
      // a 0.46, b empty: a is not busy
      expect(planRebalance({ servers: [server("a"), server("b")], tenants: busy("a", 2, 0.8), plans: config.plans, spread: DEFAULT_SPREAD }).moves).toEqual([]);
    });

    it("what was never measured neither moves nor takes a move; targets keep their policy, units and readiness", () => {
      // a's busy tenants are measured, its quiet one is not; b's tenants never were (its load is unknown)
      const unmeasured = tenants("b", "starter", 2);
      const r = planRebalance({ servers: [server("a"), server("b")], tenants: [...tenants("a", "starter", 1, "quiet"), ...busy("a", 3, 0.8), ...unmeasured], plans: config.plans, spread: DEFAULT_SPREAD });
      expect(r.moves).toEqual([]);
      // c is empty but draining, d has no units left, e is full by reservations: only f takes it
      // (6 × 1150 MiB measured: 6900 of 7168 reserved, under its policy; one more starter reserves 720)
      const targets = [server("c", 8, { status: "draining" }), server("d", 8, { capacity: 0 }), server("e"), server("f")];
      const full = busy("e", 6, 0.1, 1150);
      const r2 = planRebalance({ servers: [server("a"), ...targets], tenants: [...busy("a", 3, 0.8), ...full], plans: config.plans, spread: { ...DEFAULT_SPREAD, maxMoves: 1 } });
      expect(r2.moves.map((m) => m.to)).toEqual(["f"]);
    });

    it("after the policy's moves: a tenant moved to bring a server under its policy is not moved again", () => {
      // a over its memory limits (6 starters + 1 pro); the pro moves by policy to c (16 GiB),
      // then a is still CPU-busy and b idle: a starter spreads to b, never the pro again
      const pro = { ...tenants("a", "pro", 1)[0]!, use: { cpu: 0.3, memoryMb: 400 } };
      const r = planRebalance({ servers: [server("a"), server("b"), server("c", 16)], tenants: [...busy("a", 6, 0.45), pro], plans: config.plans, spread: DEFAULT_SPREAD });
      expect(r.moves[0]).toMatchObject({ tenant: "a-pro-0", to: "c", why: ["memory"] });
      expect(r.moves[0]!.spread).toBeUndefined();
      expect(r.moves.slice(1).every((m) => m.spread && m.tenant !== "a-pro-0")).toBe(true);
      expect(r.moves.length).toBeGreaterThan(1);
    });
  });
});
