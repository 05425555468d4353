import { describe, expect, it } from "vitest";
import { planRollback, storedTemplate, type HistoryRow } from "../../../src/core/workflows/rollback.js";
import { shippedManifest, shippedTemplate } from "./helpers.js";

const WORKFLOWS = [
  { key: "wf1", calls: ["wf2"] },
  { key: "wf2", calls: [] },
  { key: "wf3", calls: [] },
];
let nextId = 1;
/** history rows, given oldest first like they happen; planRollback wants newest first */
function history(...rows: Array<[key: string, version: string, sha: string | null, status?: HistoryRow["status"]]>): HistoryRow[] {
  return rows
    .map(([workflowKey, version, sha, status]) => ({ id: nextId++, workflowKey, version, status: status ?? "deployed", n8nId: `${workflowKey}-id`, templateSha256: sha }))
    .reverse();
}

describe("planRollback", () => {
  it("takes each workflow back to the template before its current one, sub-workflow first", () => {
    const h = history(["wf1", "1", "A1"], ["wf2", "1", "B1"], ["wf3", "1", "C1"], ["wf2", "2", "B2"], ["wf1", "2", "A2"]);
    const plan = planRollback(h, WORKFLOWS);
    expect(plan.steps.map((s) => [s.key, s.fromVersion, s.toVersion, s.templateSha256, s.n8nId])).toEqual([
      ["wf2", "2", "1", "B1", "wf2-id"],
      ["wf1", "2", "1", "A1", "wf1-id"],
    ]);
    expect(plan.unchanged).toEqual([{ key: "wf3", reason: "no earlier version recorded (only 1)" }]);
  });

  it("skips re-deploys of the same template (a forced deploy after drift is not a version)", () => {
    const h = history(["wf2", "1", "B1"], ["wf2", "2", "B2"], ["wf2", "2", "B2"]);
    const [step] = planRollback(h, WORKFLOWS, ["wf2"]).steps;
    expect(step).toMatchObject({ fromVersion: "2", toVersion: "1", templateSha256: "B1" });
    // both rows of version 2 are rolled back over, so neither can become "current" again
    const [newest, second, target] = h;
    expect(step!.supersededRowIds).toEqual([newest!.id, second!.id]);
    expect(step!.targetRowId).toBe(target!.id);
  });

  it("a second rollback goes one version further back (rolled-back rows are history, not candidates)", () => {
    // v1, v2, v3 deployed; rollback 3→2 marked v3 rolled_back and recorded v2 again
    const h = history(["wf2", "1", "B1"], ["wf2", "2", "B2"], ["wf2", "3", "B3", "rolled_back"], ["wf2", "2", "B2"]);
    const [step] = planRollback(h, WORKFLOWS, ["wf2"]).steps;
    expect(step).toMatchObject({ fromVersion: "2", toVersion: "1", templateSha256: "B1" });
    expect(step!.supersededRowIds).toHaveLength(2);
  });

  it("ignores failed rows and says why a workflow cannot be rolled back", () => {
    const h = history(["wf1", "1", null], ["wf1", "2", "A2"], ["wf2", "1", "B1"], ["wf2", "2", "B2", "failed"]);
    const plan = planRollback(h, WORKFLOWS);
    expect(plan.steps).toEqual([]);
    expect(plan.unchanged).toEqual([
      { key: "wf2", reason: "no earlier version recorded (only 1)" },
      { key: "wf1", reason: "no earlier version recorded (only 2)" },
      { key: "wf3", reason: "never deployed" },
    ]);
    expect(planRollback(history(["wf3", "1", "C1"], ["wf3", "2", null]), WORKFLOWS, ["wf3"]).unchanged).toEqual([
      { key: "wf3", reason: "version 2 was deployed before btw kept templates: nothing to compare with" },
    ]);
  });
});

describe("storedTemplate", () => {
  it("names a template by the sha256 of its canonical API payload: key order and export-only fields do not matter", () => {
    const m = shippedManifest();
    const raw = shippedTemplate(m.workflows[0]!.file);
    const a = storedTemplate(raw);
    const reordered = Object.fromEntries(Object.entries({ ...raw, id: "x", active: true, tags: [] }).reverse());
    expect(storedTemplate(reordered).sha256).toBe(a.sha256);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    // placeholders stay: the stored template is bound again at rollback
    expect(JSON.stringify(a.template)).toContain("btw:workflow:wf2");
    const changed = structuredClone(raw) as { nodes: { parameters: Record<string, unknown> }[] };
    changed.nodes[0]!.parameters.note = "v2";
    expect(storedTemplate(changed).sha256).not.toBe(a.sha256);
  });
});
