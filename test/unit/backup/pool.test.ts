import { describe, expect, it } from "vitest";
import { runBounded } from "../../../src/core/backup/pool.js";

describe("bounded pool", () => {
  it("never exceeds the total nor the per-group limit, and runs everything", async () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ i, g: `s${i % 3}` }));
    let active = 0;
    let maxActive = 0;
    const perGroup = new Map<string, number>();
    let maxGroup = 0;
    const r = await runBounded(items, (x) => x.g, { total: 4, perGroup: 2 }, async (x) => {
      active++;
      perGroup.set(x.g, (perGroup.get(x.g) ?? 0) + 1);
      maxActive = Math.max(maxActive, active);
      maxGroup = Math.max(maxGroup, perGroup.get(x.g)!);
      await new Promise((res) => setTimeout(res, 2 + (x.i % 4)));
      active--;
      perGroup.set(x.g, perGroup.get(x.g)! - 1);
      return x.i * 2;
    });
    expect(maxActive).toBe(4);
    expect(maxGroup).toBe(2);
    expect(r.map((s) => (s.ok ? s.value : -1))).toEqual(items.map((x) => x.i * 2));
  });

  it("goes on past failures and reports each", async () => {
    const r = await runBounded([1, 2, 3], () => "g", { total: 2, perGroup: 2 }, async (n) => {
      if (n === 2) throw new Error("boom");
      return n;
    });
    expect(r.map((s) => s.ok)).toEqual([true, false, true]);
    expect(r[1]!.ok ? null : String((r[1] as { error: unknown }).error)).toMatch(/boom/);
  });

  it("a slow group does not hold back the others", async () => {
    const order: string[] = [];
    await runBounded(["slow1", "slow2", "fast1", "fast2"], (x) => x.replace(/\d/, ""), { total: 3, perGroup: 1 }, async (x) => {
      await new Promise((res) => setTimeout(res, x.startsWith("slow") ? 30 : 1));
      order.push(x);
    });
    expect(order.indexOf("fast2")).toBeLessThan(order.indexOf("slow1"));
  });
});
