// The content schema's retention (issue 16): the prune statement, its answer, which tenants
// are pruned at which horizon.

import { describe, expect, it } from "vitest";
import { contentPruneSql, parsePruneCounts, prunePlan } from "../../../src/core/content/retention.js";
import { configSchema } from "../../../src/config/schema.js";
import { scheduleSchema } from "../../../src/config/schedule-schema.js";
import { scheduledJobs } from "../../../src/core/schedule/jobs.js";

describe("content retention", () => {
  it("deletes keywords, and clusters without an article, older than the horizon; counts both", () => {
    const sql = contentPruneSql(180);
    expect(sql).toBe(
      "with k as (delete from content.keywords where created_at < now() - make_interval(days => 180) returning 1), " +
        "c as (delete from content.clusters cl where cl.created_at < now() - make_interval(days => 180) " +
        "and not exists (select 1 from content.articles a where a.cluster_id = cl.id) returning 1) " +
        "select (select count(*) from k) || ' ' || (select count(*) from c)",
    );
    expect(sql).not.toMatch(/delete from content\.articles/);
  });

  it("refuses a horizon that is not a whole number of days", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 40_000]) expect(() => contentPruneSql(bad)).toThrow(RangeError);
  });

  it("parses the two counts and nothing else", () => {
    expect(parsePruneCounts("12 3\n")).toEqual({ keywords: 12, clusters: 3 });
    expect(parsePruneCounts("ERROR: relation")).toBeNull();
  });

  it("prunes each tenant at its plan's horizon; a plan with null keeps, an unknown plan is said", () => {
    const plans = { starter: { contentRetentionDays: 90 }, enterprise: { contentRetentionDays: null } };
    const r = prunePlan([{ slug: "a", plan: "starter" }, { slug: "b", plan: "enterprise" }, { slug: "c", plan: "gone" }], plans);
    expect(r.prune.map((p) => [p.tenant.slug, p.days])).toEqual([["a", 90]]);
    expect(r.keep.map((k) => [k.tenant.slug, k.reason])).toEqual([
      ["b", "plan 'enterprise' keeps content forever"],
      ["c", "plan 'gone' is not in the configuration"],
    ]);
  });

  it("defaults every plan to 180 days", () => {
    const c = configSchema.parse({ domain: "example.com" });
    expect(Object.values(c.plans).map((p) => p.contentRetentionDays)).toEqual([180, 180, 180, 180]);
  });

  it("is a scheduled job, daily, as is usage collection (which sends the quota notices)", () => {
    const jobs = scheduledJobs(scheduleSchema.parse({}));
    expect(jobs.find((j) => j.name === "content-prune")).toMatchObject({ cron: "45 4 * * *", enabled: true, argv: ["tenant", "content", "prune", "--all", "--json"] });
    expect(jobs.find((j) => j.name === "usage-collect")).toMatchObject({ cron: "5 */6 * * *", enabled: true, argv: ["usage", "collect", "--json"] });
    expect(scheduledJobs(scheduleSchema.parse({ contentPrune: { enabled: false } })).find((j) => j.name === "content-prune")!.enabled).toBe(false);
  });
});
