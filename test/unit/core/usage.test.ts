import { describe, expect, it } from "vitest";
import { monthPeriod, parseUsage, quotaFlags, usageSql, weeksIn } from "../../../src/core/usage/usage.js";

describe("usage", () => {
  it("a month's bounds, December included; bad input refused", () => {
    expect(monthPeriod("2026-12")).toEqual({ period: "2026-12-01", from: "2026-12-01T00:00:00Z", to: "2027-01-01T00:00:00Z" });
    expect(monthPeriod(undefined, new Date("2026-02-14T10:00:00Z")).period).toBe("2026-02-01");
    expect(() => monthPeriod("2026-13")).toThrow(/not a month/);
    expect(() => monthPeriod("26-1")).toThrow(/not a month/);
  });
  it("the query takes only checked bounds", () => {
    const sql = usageSql("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
    expect(sql).toContain(`"startedAt" >= '2026-11-01T00:00:00Z'::timestamptz`);
    expect(sql).toContain("to_regclass('content.articles')");
    expect(() => usageSql("2026-11-01'; drop table x; --", "2026-12-01T00:00:00Z")).toThrow(RangeError);
  });
  it("parses the row; other = total − success − error", () => {
    expect(parseUsage("7 2 10 3 1\n")).toEqual({ "executions.success": 7, "executions.error": 2, "executions.other": 1, "executions.total": 10, "workflows.active": 3, "articles.published": 1 });
    expect(parseUsage("error")).toBeNull();
  });
  it("flags 80 % and 100 % of the quotas; unlimited never", () => {
    const q = { executionsPerMonth: 10, activeWorkflows: 5, articlesPerWeek: 2 };
    const weeks = weeksIn("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"); // 30 days: 4.29 weeks → 9 articles
    expect(quotaFlags({ "executions.total": 8, "workflows.active": 5, "articles.published": 3 }, q, weeks)).toEqual([
      { metric: "executions.total", value: 8, quota: 10, ratio: 0.8, level: "80%" },
      { metric: "workflows.active", value: 5, quota: 5, ratio: 1, level: "100%" },
    ]);
    expect(quotaFlags({ "executions.total": 1e9 }, { executionsPerMonth: null, activeWorkflows: null, articlesPerWeek: null }, weeks)).toEqual([]);
  });
});
