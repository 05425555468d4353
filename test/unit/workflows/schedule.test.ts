import { describe, expect, it } from "vitest";
import { articleCrons, runsPerWeek } from "../../../src/core/workflows/schedule.js";

describe("articleCrons: WF3's schedule from articlesPerWeek", () => {
  it("2 a week: Monday and Thursday 08:00, as the seed says", () => {
    expect(articleCrons(2)).toEqual(["0 8 * * 1,4"]);
  });
  it("1, 3 and 7 a week", () => {
    expect(articleCrons(1)).toEqual(["0 8 * * 1"]);
    expect(articleCrons(3)).toEqual(["0 8 * * 1,3,5"]);
    expect(articleCrons(7)).toEqual(["0 8 * * *"]);
  });
  it("8 a week (pro): every day at 08:00 and a second run on Monday", () => {
    expect(articleCrons(8)).toEqual(["0 8,14 * * 1", "0 8 * * 2,3,4,5,6,0"]);
  });
  it.each([1, 2, 5, 8, 13, 20, 35, 50])("%i a week fires exactly that often, at most 3 expressions", (n) => {
    const c = articleCrons(n)!;
    expect(runsPerWeek(c)).toBe(n);
    expect(c.length).toBeLessThanOrEqual(3);
    for (const e of c) expect(e).toMatch(/^0 [0-9,]+ \* \* [0-9,*]+$/);
  });
  it("unlimited keeps the template's; nonsense is refused", () => {
    expect(articleCrons(null)).toBeNull();
    expect(() => articleCrons(0)).toThrow(RangeError);
    expect(() => articleCrons(2.5)).toThrow(RangeError);
  });
});

describe("bindTemplate with a plan-driven schedule", () => {
  it("replaces WF3's Schedule Trigger intervals with the plan's crons, nothing else", async () => {
    const { readFileSync } = await import("node:fs");
    const { bindTemplate } = await import("../../../src/core/workflows/template.js");
    const wf3 = JSON.parse(readFileSync(new URL("../../../workflows/WF3_generation.json", import.meta.url), "utf8"));
    const credentialIds = { "btw Postgres": { id: "1", name: "btw Postgres" }, "btw OpenAI": { id: "2", name: "btw OpenAI" }, "btw WordPress": { id: "3", name: "btw WordPress" } };
    const base = { credentialIds, parameters: { wordpressUrl: "https://blog.example" }, timezone: "Europe/Paris" };
    const plain = bindTemplate(wf3, base);
    const pro = bindTemplate(wf3, { ...base, schedule: articleCrons(8)! });
    const trig = (p: typeof plain) => p.nodes.find((n) => n.type === "n8n-nodes-base.scheduleTrigger")!.parameters;
    expect(trig(plain)).toEqual({ rule: { interval: [{ field: "cronExpression", expression: "0 8 * * 1,4" }] } });
    expect(trig(pro)).toEqual({
      rule: { interval: [{ field: "cronExpression", expression: "0 8,14 * * 1" }, { field: "cronExpression", expression: "0 8 * * 2,3,4,5,6,0" }] },
    });
    expect(pro.nodes.filter((n) => n.type !== "n8n-nodes-base.scheduleTrigger")).toEqual(plain.nodes.filter((n) => n.type !== "n8n-nodes-base.scheduleTrigger"));
    expect(pro.settings.timezone).toBe("Europe/Paris");
  });
});
