import { describe, expect, it } from "vitest";
import { planDeploy, type DeployedWorkflow, type LiveWorkflow, type PlanTemplate } from "../../../src/core/workflows/plan.js";

const T = (key: string, checksum: string | null, version = "2", calls: string[] = []): PlanTemplate => ({ key, name: `${key} name`, version, calls, checksum });
const D = (workflowKey: string, n8nId: string | null, checksum: string, version = "2"): DeployedWorkflow => ({ workflowKey, n8nId, checksum, version });
const L = (id: string, checksum: string, name = "x", active = true): LiveWorkflow => ({ id, name, checksum, active });

const TEMPLATES = [T("wf1", "c1", "2", ["wf2"]), T("wf2", "c2"), T("wf3", "c3")];

describe("planDeploy", () => {
  it("creates everything on a fresh tenant, WF2 before WF1", () => {
    expect(planDeploy(TEMPLATES, [], [])).toEqual([
      { key: "wf2", action: "create", version: "2", publish: true, reason: "not deployed yet" },
      { key: "wf1", action: "create", version: "2", publish: true, reason: "not deployed yet" },
      { key: "wf3", action: "create", version: "2", publish: true, reason: "not deployed yet" },
    ]);
  });

  it("does nothing when templates, records and n8n agree", () => {
    const plan = planDeploy(TEMPLATES, [D("wf1", "a", "c1"), D("wf2", "b", "c2"), D("wf3", "c", "c3")], [L("a", "c1"), L("b", "c2"), L("c", "c3")]);
    expect(plan.map((p) => [p.key, p.action, p.id, p.publish])).toEqual([
      ["wf2", "noop", "b", false],
      ["wf1", "noop", "a", false],
      ["wf3", "noop", "c", false],
    ]);
  });

  it("updates in place (same id) when the template or its version changed", () => {
    const plan = planDeploy(
      [T("wf1", "c1-new", "3", ["wf2"]), T("wf2", "c2", "3"), T("wf3", "c3")],
      [D("wf1", "a", "c1"), D("wf2", "b", "c2"), D("wf3", "c", "c3")],
      [L("a", "c1"), L("b", "c2"), L("c", "c3")],
    );
    expect(plan).toEqual([
      { key: "wf2", action: "update", id: "b", fromVersion: "2", version: "3", publish: true, reason: "version 2 → 3" },
      { key: "wf1", action: "update", id: "a", fromVersion: "2", version: "3", publish: true, reason: "version 2 → 3" },
      { key: "wf3", action: "noop", id: "c", fromVersion: "2", version: "2", publish: false, reason: "up to date" },
    ]);
    expect(planDeploy([T("wf3", "c3-edited")], [D("wf3", "c", "c3")], [L("c", "c3")])[0]).toMatchObject({ action: "update", reason: "template changed" });
  });

  it("reports drift when the live workflow no longer matches what was deployed", () => {
    const plan = planDeploy([T("wf3", "c3")], [D("wf3", "c", "c3")], [L("c", "edited-in-n8n")]);
    expect(plan).toEqual([{ key: "wf3", action: "drift", id: "c", fromVersion: "2", version: "2", publish: false, reason: "changed in n8n since it was deployed" }]);
  });

  it("overwrites drift when forced", () => {
    const plan = planDeploy([T("wf3", "c3")], [D("wf3", "c", "c3")], [L("c", "edited-in-n8n")], { force: true });
    expect(plan[0]).toMatchObject({ action: "update", id: "c", reason: "overwrite changes made in n8n (forced)" });
  });

  it("re-creates a workflow deleted in n8n, and updates its callers for the new id", () => {
    const plan = planDeploy(TEMPLATES.slice(0, 2), [D("wf1", "a", "c1"), D("wf2", "b", "c2")], [L("a", "c1")]);
    expect(plan.map((p) => [p.key, p.action, p.reason])).toEqual([
      ["wf2", "create", "workflow b no longer exists in n8n"],
      ["wf1", "update", "wf2 is re-created: its id changes"],
    ]);
  });

  it("updates a caller whose template cannot be bound yet (checksum unknown)", () => {
    const plan = planDeploy([T("wf1", null, "2", ["wf2"]), T("wf2", "c2")], [D("wf1", "a", "c1"), D("wf2", "b", "c2")], [L("a", "c1"), L("b", "c2")]);
    expect(plan.map((p) => [p.key, p.action])).toEqual([
      ["wf2", "noop"],
      ["wf1", "update"],
    ]);
  });

  it("adopts an unrecorded workflow with the template's name (a crash between create and record)", () => {
    const plan = planDeploy([T("wf2", "c2")], [], [L("z", "whatever", "wf2 name", false)]);
    expect(plan).toEqual([{ key: "wf2", action: "update", id: "z", version: "2", publish: true, reason: "adopt the existing workflow 'wf2 name' (never recorded)" }]);
  });

  it("refuses to guess between several unrecorded workflows with the same name", () => {
    const plan = planDeploy([T("wf2", "c2")], [], [L("y", "1", "wf2 name"), L("z", "2", "wf2 name")]);
    expect(plan[0]).toMatchObject({ action: "drift", reason: "2 workflows are named 'wf2 name' (y, z) and none is recorded: delete the extras" });
  });

  it("asks to publish an up-to-date workflow that is not published", () => {
    expect(planDeploy([T("wf3", "c3")], [D("wf3", "c", "c3")], [L("c", "c3", "x", false)])[0]).toMatchObject({
      action: "noop",
      publish: true,
      reason: "up to date but not published",
    });
  });
});
