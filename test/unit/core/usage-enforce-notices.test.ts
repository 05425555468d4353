// usage --enforce's choice of workflows to unpublish, and the quota notices' de-duplication
// (issue 16).

import { describe, expect, it } from "vitest";
import { selectToUnpublish } from "../../../src/core/usage/enforce.js";
import { noticeKey, pendingNotices, quotaNotice, type TenantFlags } from "../../../src/core/usage/quota-notices.js";
import { webhookPayload } from "../../../src/core/notify/message.js";

const wf = (id: string, createdAt?: string) => ({ id, name: `W${id}`, ...(createdAt ? { createdAt } : {}) });

describe("usage --enforce: which workflows are unpublished", () => {
  const own = new Set(["1", "2", "3"]);
  const published = [wf("1", "2026-01-01T00:00:00Z"), wf("2", "2026-01-01T00:00:00Z"), wf("3", "2026-01-01T00:00:00Z"), wf("a", "2026-03-01T00:00:00Z"), wf("b", "2026-05-01T00:00:00Z"), wf("c", "2026-04-01T00:00:00Z"), wf("d", "2026-02-01T00:00:00Z")];

  it("unpublishes the newest customer workflows first, just enough to reach the quota", () => {
    expect(selectToUnpublish(published, own, 5).unpublish.map((w) => w.id)).toEqual(["b", "c"]);
    expect(selectToUnpublish(published, own, 6)).toEqual({ unpublish: [wf("b", "2026-05-01T00:00:00Z")], unmet: 0 });
  });

  it("never touches btw's own WF1–WF3, even when they alone exceed the quota; says how many stay over", () => {
    const r = selectToUnpublish(published, own, 2);
    expect(r.unpublish.map((w) => w.id)).toEqual(["b", "c", "a", "d"]);
    expect(r.unmet).toBe(1);
  });

  it("does nothing at or under the quota, or without one", () => {
    expect(selectToUnpublish(published, own, 7)).toEqual({ unpublish: [], unmet: 0 });
    expect(selectToUnpublish(published, own, null)).toEqual({ unpublish: [], unmet: 0 });
  });

  it("takes workflows without a creation date as the oldest; ties go to the higher id", () => {
    const r = selectToUnpublish([wf("x"), wf("y", "2026-01-01T00:00:00Z"), wf("z", "2026-01-01T00:00:00Z")], new Set(), 1);
    expect(r.unpublish.map((w) => w.id)).toEqual(["z", "y"]);
  });
});

describe("quota notices", () => {
  const period = "2026-11-01";
  const tenants: TenantFlags[] = [
    { tenantId: 1, tenant: "acme", plan: "starter", flags: [{ metric: "executions.total", value: 8_500, quota: 10_000, ratio: 0.85, level: "80%" }] },
    { tenantId: 2, tenant: "beta", plan: "pro", flags: [{ metric: "workflows.active", value: 26, quota: 25, ratio: 1.04, level: "100%" }, { metric: "executions.total", value: 41_000, quota: 50_000, ratio: 0.82, level: "80%" }] },
  ];

  it("sends each threshold of a month once: what was sent is left out", () => {
    expect(pendingNotices(period, tenants, new Set()).map((p) => `${p.tenant} ${p.flag.metric} ${p.flag.level}`)).toEqual([
      "acme executions.total 80%",
      "beta workflows.active 100%",
      "beta executions.total 80%",
    ]);
    const sent = new Set([noticeKey(period, 1, "executions.total", "80%"), noticeKey(period, 2, "workflows.active", "100%")]);
    expect(pendingNotices(period, tenants, sent).map((p) => `${p.tenant} ${p.flag.metric} ${p.flag.level}`)).toEqual(["beta executions.total 80%"]);
  });

  it("sends the 100 % notice after the 80 % one of the same metric, and again next month", () => {
    const at100: TenantFlags[] = [{ ...tenants[0]!, flags: [{ metric: "executions.total", value: 10_000, quota: 10_000, ratio: 1, level: "100%" }] }];
    const sent = new Set([noticeKey(period, 1, "executions.total", "80%")]);
    expect(pendingNotices(period, at100, sent)).toHaveLength(1);
    expect(pendingNotices("2026-12-01", tenants.slice(0, 1), sent)).toHaveLength(1);
  });

  it("says who, what, how much and what to run", () => {
    const n = quotaNotice(period, pendingNotices(period, tenants, new Set())[1]!, new Date("2026-11-20T10:00:00Z"));
    expect(n.event).toBe("quota.100");
    expect(n.subject).toBe("[btw] beta has reached its pro quota of published workflows (2026-11)");
    expect(n.text).toContain("26 published workflows of 25 (104 %) in 2026-11.");
    expect(n.text).toContain("btw usage report --enforce");
    expect(webhookPayload(n)).toMatchObject({ event: "quota.100", subject: n.subject });
    expect(JSON.parse(n.report.content)).toMatchObject({ period: "2026-11", tenant: "beta", metric: "workflows.active", level: "100%" });
  });
});
