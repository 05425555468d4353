import { describe, expect, it } from "vitest";
import { choosePlacement, placementError, placementServer, type PlacementServer } from "../../../src/core/placement.js";
import { configSchema } from "../../../src/config/schema.js";
import { allocatable, capacityPolicy, serverCapacity } from "../../../src/core/capacity.js";
import { ConflictError, ExitCode, NotFoundError } from "../../../src/errors.js";

const server = (name: string, capacity: number, used: number, status = "ready", isolated = true): PlacementServer => ({ name, capacity, used, status, isolated });

describe("choosePlacement", () => {
  it("picks the server with most free capacity", () => {
    const servers = [server("a", 12, 10), server("b", 24, 12), server("c", 12, 4)];
    expect(choosePlacement({ servers, weight: 2 })).toEqual({ ok: true, server: "b", freeBefore: 12, freeAfter: 10 });
  });

  it("breaks ties by name, whatever the input order", () => {
    const servers = [server("hel1-b", 12, 4), server("fsn1-a", 12, 4), server("nbg1-c", 12, 4)];
    expect(choosePlacement({ servers, weight: 1 })).toMatchObject({ ok: true, server: "fsn1-a" });
    expect(choosePlacement({ servers: [...servers].reverse(), weight: 1 })).toMatchObject({ ok: true, server: "fsn1-a" });
  });

  it("skips servers that are not ready, even with the most room", () => {
    const servers = [server("empty-draining", 48, 0, "draining"), server("new", 48, 0, "bootstrapping"), server("busy", 12, 8)];
    expect(choosePlacement({ servers, weight: 4 })).toMatchObject({ ok: true, server: "busy", freeAfter: 0 });
  });

  // issue 22 item 10: a host added without BTW-ISOLATION (or whose rules were flushed) passed
  // readiness and received tenants that could reach its sshd, the private network, the others
  it("skips a ready server whose tenant isolation is not in force, even with the most room", () => {
    const servers = [server("bare", 48, 0, "ready", false), server("busy", 12, 8)];
    expect(choosePlacement({ servers, weight: 4 })).toMatchObject({ ok: true, server: "busy" });
    expect(choosePlacement({ servers: [server("bare", 48, 0, "ready", false)], weight: 1 })).toEqual({
      ok: false,
      reason: "no-capacity",
      weight: 1,
      servers: [{ name: "bare", status: "not isolated", free: 48 }],
    });
  });

  it("reads isolation from what the server's last check recorded: installed (in place, or drifted and reported) takes tenants; missing, unreadable or never checked does not", () => {
    const row = (facts: Record<string, unknown> | null, status = "active") => placementServer({ name: "s", capacity: 12, usedCapacity: 0, status, facts });
    expect([{ isolation: "in-place" }, { isolation: "drift" }, { isolation: "missing" }, { isolation: "unknown" }, { engineVersion: "27.5.1" }, null].map((f) => row(f).isolated)).toEqual([true, true, false, false, false, false]);
    expect(row({ isolation: "in-place" })).toEqual({ name: "s", capacity: 12, used: 0, status: "ready", isolated: true });
    expect(row({ isolation: "in-place" }, "new").status).toBe("new");
  });

  it("fills a server exactly, with decimal weights", () => {
    expect(choosePlacement({ servers: [server("a", 1, 0.7)], weight: 0.3 })).toMatchObject({ ok: true, server: "a" });
    expect(choosePlacement({ servers: [server("a", 12, 0.1 + 0.2 + 11.4)], weight: 0.3 })).toMatchObject({ ok: true, server: "a" });
  });

  it("refuses when no ready server has room, listing each server's free capacity by name", () => {
    const servers = [server("b", 12, 10), server("a", 12, 11), server("c", 48, 0, "draining")];
    expect(choosePlacement({ servers, weight: 4 })).toEqual({
      ok: false,
      reason: "no-capacity",
      weight: 4,
      servers: [
        { name: "a", status: "ready", free: 1 },
        { name: "b", status: "ready", free: 2 },
        { name: "c", status: "draining", free: 48 },
      ],
    });
  });

  it("refuses with an empty fleet", () => {
    expect(choosePlacement({ servers: [], weight: 1 })).toEqual({ ok: false, reason: "no-capacity", weight: 1, servers: [] });
  });

  describe("--server", () => {
    const servers = [server("a", 12, 11), server("b", 24, 0), server("c", 12, 0, "draining")];

    it("places on the requested server even when another has more room", () => {
      expect(choosePlacement({ servers: [server("a", 12, 8), server("b", 48, 0)], weight: 4, requested: "a" })).toEqual({
        ok: true,
        server: "a",
        freeBefore: 4,
        freeAfter: 0,
      });
    });

    it("refuses an unknown server, naming the known ones", () => {
      expect(choosePlacement({ servers, weight: 1, requested: "zz" })).toEqual({ ok: false, reason: "unknown-server", requested: "zz", known: ["a", "b", "c"] });
    });

    it("refuses a server without room instead of falling back to another", () => {
      expect(choosePlacement({ servers, weight: 2, requested: "a" })).toEqual({ ok: false, reason: "server-full", server: "a", free: 1, weight: 2 });
    });

    it("refuses a server that is not ready", () => {
      expect(choosePlacement({ servers, weight: 1, requested: "c" })).toEqual({ ok: false, reason: "server-not-ready", server: "c", status: "draining" });
    });

    it("refuses a ready server whose tenant isolation is not in force, instead of placing there", () => {
      expect(choosePlacement({ servers: [server("bare", 48, 0, "ready", false)], weight: 1, requested: "bare" })).toEqual({ ok: false, reason: "server-not-isolated", server: "bare" });
    });
  });

  it("rejects a non-positive weight as a programming error", () => {
    expect(() => choosePlacement({ servers: [], weight: 0 })).toThrow(RangeError);
    expect(() => choosePlacement({ servers: [], weight: Number.NaN })).toThrow(RangeError);
  });
});

describe("placementError", () => {
  it("unknown server → NotFoundError, exit 2", () => {
    const e = placementError({ ok: false, reason: "unknown-server", requested: "zz", known: ["a", "b"] });
    expect(e).toBeInstanceOf(NotFoundError);
    expect([e.code, e.message, e.hint, e.exitCode]).toEqual(["server-not-found", "server 'zz' does not exist", "known servers: a, b (btw server list)", ExitCode.usage]);
  });

  it("full server → ConflictError, exit 2", () => {
    const e = placementError({ ok: false, reason: "server-full", server: "a", free: 1, weight: 2 });
    expect(e).toBeInstanceOf(ConflictError);
    expect([e.code, e.message, e.exitCode]).toEqual(["server-full", "server 'a' has 1 capacity units free; the plan needs 2", ExitCode.usage]);
  });

  it("not ready → ConflictError naming the status", () => {
    const e = placementError({ ok: false, reason: "server-not-ready", server: "c", status: "draining" });
    expect([e.code, e.message, e.hint]).toEqual([
      "server-not-ready",
      "server 'c' is draining, not ready for new tenants",
      "run `btw server check c`, or omit --server to let btw choose",
    ]);
  });

  it("not isolated → ConflictError naming the command that isolates it", () => {
    const e = placementError({ ok: false, reason: "server-not-isolated", server: "bare" });
    expect(e).toBeInstanceOf(ConflictError);
    expect([e.code, e.message, e.hint, e.exitCode]).toEqual([
      "server-not-isolated",
      "server 'bare' takes no tenants: its tenant isolation rules are not in force (or were never checked)",
      "run `btw server isolate bare` (it installs the rules and checks them), or omit --server to let btw choose",
      ExitCode.usage,
    ]);
    expect(placementError({ ok: false, reason: "no-capacity", weight: 1, servers: [{ name: "bare", status: "not isolated", free: 48 }] }).hint).toMatch(/^`btw server isolate` the servers marked not isolated/);
  });

  it("no capacity → ConflictError listing every server", () => {
    const e = placementError({
      ok: false,
      reason: "no-capacity",
      weight: 4,
      servers: [
        { name: "a", status: "ready", free: 1 },
        { name: "b", status: "ready", free: 2.5 },
        { name: "c", status: "draining", free: 48 },
      ],
    });
    expect([e.code, e.message, e.exitCode]).toEqual(["no-capacity", "no server has room for a plan of weight 4 (a 1 free, b 2.5 free, c draining)", ExitCode.usage]);
    expect(placementError({ ok: false, reason: "no-capacity", weight: 1, servers: [] }).message).toBe("no server has room for a plan of weight 1 (no servers)");
  });
});

describe("choosePlacement with resources (issue 26): units and resources must both have room", () => {
  const config = configSchema.parse({ domain: "example.com" });
  const policy = capacityPolicy(config);
  const pro = { name: "pro", plan: config.plans.pro!, policy };
  const GiB = 2 ** 30;
  const withRoom = (name: string, memGb: number, pros: number, units = 100): PlacementServer => ({
    ...server(name, units, 0),
    resources: serverCapacity({ name, allocatable: allocatable({ cpus: 4, memTotalBytes: memGb * GiB, diskFreeBytes: 100 * GiB }, policy), tenants: Array(pros).fill(config.plans.pro!) }, policy),
  });

  it("skips a server short of memory though its units have room; refuses it by name when asked for", () => {
    // 8 GiB: ceiling 10752 MiB, 3 pros' limits 8448 (n8n 1536, its runner 512, postgres 512,
    // redis 256) — a fourth would be 11264
    const servers = [withRoom("full", 8, 3, 200), withRoom("room", 8, 1)];
    expect(choosePlacement({ servers, weight: 2, plan: pro })).toMatchObject({ ok: true, server: "room" });
    const refused = choosePlacement({ servers, weight: 2, plan: pro, requested: "full" });
    expect(refused).toMatchObject({ ok: false, reason: "server-short", server: "full", short: { short: "memory", what: "limit" } });
    const err = placementError(refused as Exclude<typeof refused, { ok: true }>);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toBe("server 'full' is short of memory: a pro tenant may use up to 2816 MiB, 2304 MiB left under the overcommit ceiling");
  });

  it("none with room: the refusal lists who is short of what", () => {
    const r = choosePlacement({ servers: [withRoom("a", 8, 4), withRoom("b", 4, 2)], weight: 2, plan: pro });
    expect(r).toMatchObject({ ok: false, reason: "no-capacity" });
    expect(placementError(r as Exclude<typeof r, { ok: true }>).message).toBe("no server has room for a plan of weight 2 (a short of memory, b short of memory)");
  });

  it("a server without facts: units alone decide", () => {
    const unchecked: PlacementServer = { ...server("u", 12, 0), resources: serverCapacity({ name: "u", allocatable: null, tenants: [] }, policy) };
    expect(choosePlacement({ servers: [unchecked], weight: 2, plan: pro })).toMatchObject({ ok: true, server: "u" });
  });
});
