import { describe, expect, it } from "vitest";
import { decidePrune, isoWeek } from "../../../src/core/backup/retention.js";

const at = (s: string) => new Date(s);
const b = (id: string, when: string, tenant = "acme") => ({ id, tenant, createdAt: at(when) });

describe("retention", () => {
  it("ISO weeks start on Monday; Jan 1st may belong to the previous year's last week", () => {
    expect(isoWeek(at("2026-01-01T00:00:00Z"))).toBe("2026-W01"); // a Thursday
    expect(isoWeek(at("2027-01-01T00:00:00Z"))).toBe("2026-W53"); // a Friday
    expect(isoWeek(at("2026-03-09T00:00:00Z"))).toBe("2026-W11"); // Monday
    expect(isoWeek(at("2026-03-08T23:59:59Z"))).toBe("2026-W10"); // Sunday
  });

  it("keeps the newest of each of the last N days, weeks and months", () => {
    const list = [];
    for (let d = 1; d <= 60; d++) list.push(b(`d${d}`, new Date(Date.UTC(2026, 0, d, 2)).toISOString()));
    list.push(b("d60-late", new Date(Date.UTC(2026, 0, 60, 20)).toISOString()));
    const { keep, remove } = decidePrune(list, { daily: 3, weekly: 2, monthly: 2 });
    const kept = keep.map((k) => k.id).sort();
    // day 60 = Sunday 1 March. daily: Feb 27, Feb 28, Mar 1 (the later one); weekly: W09
    // (Mar 1) and W08's Sunday Feb 22 (d53); monthly: March (Mar 1) and February (Feb 28).
    expect(kept).toEqual(["d53", "d58", "d59", "d60-late"]);
    expect(remove.length + keep.length).toBe(61);
    expect(keep.find((k) => k.id === "d60-late")!.reasons).toEqual(["daily 2026-03-01", "weekly 2026-W09", "monthly 2026-03"]);
  });

  it("is per tenant, and always keeps a tenant's newest backup", () => {
    const list = [b("a1", "2026-01-01T00:00:00Z", "a"), b("a2", "2026-01-02T00:00:00Z", "a"), b("b1", "2026-01-01T00:00:00Z", "b")];
    const { keep, remove } = decidePrune(list, { daily: 0, weekly: 0, monthly: 0 });
    expect(keep.map((k) => k.id).sort()).toEqual(["a2", "b1"]);
    expect(remove.map((r) => r.id)).toEqual(["a1"]);
  });
});

describe("decidePrune: verified and purged tenants", () => {
  const at = (s: string) => new Date(`${s}T02:00:00Z`);
  it("keeps the newest verified backup even when no rule keeps it", () => {
    const list = [
      { id: "a-3", tenant: "a", createdAt: at("2026-03-03") },
      { id: "a-2", tenant: "a", createdAt: at("2026-03-02") },
      { id: "a-1", tenant: "a", createdAt: at("2026-03-01"), verified: true },
    ];
    const { keep, remove } = decidePrune(list, { daily: 1, weekly: 0, monthly: 0 });
    expect(keep.map((k) => [k.id, k.reasons])).toEqual([
      ["a-3", ["daily 2026-03-03"]],
      ["a-1", ["newest verified"]],
    ]);
    expect(remove.map((r) => r.id)).toEqual(["a-2"]);
  });

  it("keeps a purged tenant's backups for purgedDays after the purge, then removes them all", () => {
    const purgedAt = at("2026-03-10");
    const list = [
      { id: "p-2", tenant: "p", createdAt: at("2026-03-10"), purgedAt },
      { id: "p-1", tenant: "p", createdAt: at("2026-03-01"), purgedAt, verified: true },
    ];
    const before = decidePrune(list, { daily: 0, weekly: 0, monthly: 0, purgedDays: 30 }, at("2026-04-08"));
    expect(before.keep.map((k) => k.id)).toEqual(["p-2", "p-1"]);
    expect(before.keep[0]!.reasons[0]).toMatch(/purged tenant, kept until 2026-04-09/);
    const after = decidePrune(list, { daily: 7, weekly: 4, monthly: 6, purgedDays: 30 }, at("2026-04-10"));
    expect(after.keep).toEqual([]);
    expect(after.remove.map((r) => r.id)).toEqual(["p-2", "p-1"]);
  });
});
