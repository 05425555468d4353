import { describe, expect, it } from "vitest";
import { parseBreakingChanges } from "../../../src/remote/n8n.js";

describe("parseBreakingChanges", () => {
  it("reads instance and workflow rules, wrapped in {report} or bare, keeping titles, severities and counts", () => {
    const report = {
      generatedAt: "2026-12-01T00:00:00Z",
      instanceResults: [{ ruleId: "env-1", ruleTitle: "Task runners on by default", ruleSeverity: "medium", instanceIssues: [{ title: "x" }] }],
      workflowResults: [{ ruleId: "wf-1", ruleTitle: "Start node removed", ruleSeverity: "critical", affectedWorkflows: [{ id: "1" }, { id: "2" }] }],
    };
    const want = [
      { rule: "Task runners on by default", severity: "medium", scope: "instance", workflows: 0 },
      { rule: "Start node removed", severity: "critical", scope: "workflow", workflows: 2 },
    ];
    expect(parseBreakingChanges({ report })).toEqual(want);
    expect(parseBreakingChanges(report)).toEqual(want);
  });

  it("takes the metadata's title when the result carries it there; an empty or odd report gives no finding", () => {
    expect(parseBreakingChanges({ workflowResults: [{ ruleMetadata: { title: "Code node sandbox", severity: "high" }, affectedWorkflows: 3 }] })).toEqual([
      { rule: "Code node sandbox", severity: "high", scope: "workflow", workflows: 3 },
    ]);
    expect(parseBreakingChanges({ instanceResults: [], workflowResults: [] })).toEqual([]);
    expect(parseBreakingChanges(null)).toEqual([]);
    expect(parseBreakingChanges("html")).toEqual([]);
  });
});
