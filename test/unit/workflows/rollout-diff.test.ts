import { describe, expect, it } from "vitest";
import { diffWorkflows, isEmptyDiff, lineDiff, renderDiff } from "../../../src/core/workflows/diff.js";
import { toApiPayload, type WorkflowPayload } from "../../../src/core/workflows/payload.js";
import { shippedManifest, shippedTemplate } from "./helpers.js";

const wf2 = (): WorkflowPayload => {
  const m = shippedManifest();
  return toApiPayload(shippedTemplate(m.workflows.find((w) => w.key === "wf2")!.file));
};

describe("diffWorkflows", () => {
  it("finds nothing between a workflow and itself moved around in the editor", () => {
    const a = wf2();
    const b = structuredClone(a);
    for (const n of b.nodes) n.position = [n.position[0]! + 100, 0];
    b.nodes.reverse();
    expect(isEmptyDiff(diffWorkflows(a, b))).toBe(true);
  });

  it("names the changed node and field, with code shown line by line", () => {
    const a = wf2();
    const b = structuredClone(a);
    const code = b.nodes.find((n) => n.name === "Build clusters")!;
    const lines = String(code.parameters.jsCode).split("\n");
    lines.splice(2, 0, "const injected = true;");
    code.parameters.jsCode = lines.join("\n");
    const d = diffWorkflows(a, b);
    expect(d.nodes).toHaveLength(1);
    expect(d.nodes[0]).toMatchObject({ node: "Build clusters", kind: "changed" });
    expect(d.nodes[0]!.fields.map((f) => f.path)).toEqual(["parameters.jsCode"]);
    const text = renderDiff(d).join("\n");
    expect(text).toContain("~ node 'Build clusters'");
    expect(text).toContain("+ const injected = true;");
    expect(text).not.toMatch(/^\s+- /m);
  });

  it("reports added and removed nodes, links and settings", () => {
    const a = wf2();
    const b = structuredClone(a);
    const removed = b.nodes.pop()!;
    b.nodes.push({ name: "Extra", type: "n8n-nodes-base.noOp", typeVersion: 1, position: [0, 0], parameters: {} });
    b.connections = Object.fromEntries(Object.entries(b.connections).filter(([from]) => from !== removed.name));
    for (const byType of Object.values(b.connections) as { main: { node: string }[][] }[]) {
      byType.main = byType.main.map((outs) => outs.filter((o) => o.node !== removed.name));
    }
    b.settings = { ...b.settings, executionTimeout: 60 };
    const d = diffWorkflows(a, b);
    expect(d.nodes.map((n) => [n.kind, n.node])).toEqual([
      ["removed", removed.name],
      ["added", "Extra"],
    ]);
    expect(d.links.length).toBeGreaterThan(0);
    expect(d.links.every((l) => l.kind === "removed" && l.link.includes(removed.name))).toBe(true);
    expect(d.settings).toEqual([{ path: "settings.executionTimeout", after: 60 }]);
    const text = renderDiff(d).join("\n");
    expect(text).toContain(`- node '${removed.name}'`);
    expect(text).toContain("+ node 'Extra'");
    expect(text).toContain("settings.executionTimeout: + 60");
  });

  it("shows a changed scalar as before → after", () => {
    const a = wf2();
    const b = structuredClone(a);
    const n = b.nodes.find((x) => x.type === "n8n-nodes-base.postgres")!;
    n.typeVersion = 99;
    expect(renderDiff(diffWorkflows(a, b))).toContain(`      typeVersion: ${a.nodes.find((x) => x.name === n.name)!.typeVersion} → 99`);
  });
});

describe("lineDiff", () => {
  it("keeps one line of context and elides the rest", () => {
    const before = ["a", "b", "c", "d", "e", "f"].join("\n");
    const after = ["a", "b", "c", "X", "e", "f"].join("\n");
    expect(lineDiff(before, after)).toEqual(["  …", "  c", "- d", "+ X", "  e", "  …"]);
    expect(lineDiff("x", "x\ny")).toEqual(["  x", "+ y"]);
  });
});
