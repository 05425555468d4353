import { describe, expect, it } from "vitest";
import { canonicalJson, checksum, toApiPayload, type WorkflowPayload } from "../../../src/core/workflows/payload.js";

/** A workflow as GET /api/v1/workflows/:id returns it in n8n 2.8.4 (trimmed). */
function fromN8n(): Record<string, unknown> {
  return {
    id: "zeaKHW2eT0kEqf3j",
    name: "probe",
    active: true,
    versionId: "7e778078-30d8-4552-a492-c3830d963a2c",
    activeVersionId: "7e778078-30d8-4552-a492-c3830d963a2c",
    activeVersion: { nodes: [] },
    meta: null,
    pinData: null,
    tags: [],
    shared: [],
    isArchived: false,
    versionCounter: 2,
    triggerCount: 0,
    description: null,
    createdAt: "2026-11-24T21:28:14.424Z",
    updatedAt: "2026-11-24T21:28:14.424Z",
    staticData: null,
    nodes: [
      {
        id: "8ad76493-d21f-4fd9-b586-49647907a2af",
        name: "Trigger",
        type: "n8n-nodes-base.executeWorkflowTrigger",
        typeVersion: 1.1,
        position: [0, 0],
        parameters: { inputSource: "passthrough" },
        createdAt: "x",
        extendsCredential: "y",
      },
      {
        id: "85ff34fe-27f0-44b2-aefc-dbee3526cc90",
        name: "Code",
        type: "n8n-nodes-base.code",
        typeVersion: 2,
        position: [200, 0],
        parameters: { jsCode: "return [{json:{ok:1}}]" },
        credentials: {},
        disabled: false,
      },
    ],
    connections: { Trigger: { main: [[{ node: "Code", type: "main", index: 0 }]] } },
    settings: { executionOrder: "v1", callerPolicy: "workflowsFromSameOwner", availableInMCP: false, binaryMode: "separate" },
  };
}

/** The same workflow as btw would send it. */
function asSent(): WorkflowPayload {
  return {
    name: "probe",
    nodes: [
      { name: "Trigger", type: "n8n-nodes-base.executeWorkflowTrigger", typeVersion: 1.1, position: [0, 0], parameters: { inputSource: "passthrough" } },
      { name: "Code", type: "n8n-nodes-base.code", typeVersion: 2, position: [200, 0], parameters: { jsCode: "return [{json:{ok:1}}]" } },
    ],
    connections: { Trigger: { main: [[{ node: "Code", type: "main", index: 0 }]] } },
    settings: { executionOrder: "v1" },
  };
}

describe("toApiPayload", () => {
  it("keeps exactly name, nodes, connections, settings — and only the keys the API accepts inside them", () => {
    const p = toApiPayload(fromN8n());
    expect(Object.keys(p)).toEqual(["name", "nodes", "connections", "settings"]);
    expect(p.nodes[0]).toEqual({
      id: "8ad76493-d21f-4fd9-b586-49647907a2af",
      name: "Trigger",
      type: "n8n-nodes-base.executeWorkflowTrigger",
      typeVersion: 1.1,
      position: [0, 0],
      parameters: { inputSource: "passthrough" },
    });
    expect(p.settings).toEqual({ executionOrder: "v1", callerPolicy: "workflowsFromSameOwner", availableInMCP: false });
  });

  it("keeps staticData only when it is an object", () => {
    expect(toApiPayload({ ...fromN8n(), staticData: { lastId: 1 } }).staticData).toEqual({ lastId: 1 });
    expect("staticData" in toApiPayload(fromN8n())).toBe(false);
  });

  it("copies: changing the payload leaves the export alone", () => {
    const exported = fromN8n();
    const p = toApiPayload(exported);
    (p.nodes[0]!.parameters as Record<string, unknown>).inputSource = "changed";
    expect(((exported.nodes as WorkflowPayload["nodes"])[0]!.parameters as Record<string, unknown>).inputSource).toBe("passthrough");
  });

  it("rejects what is not a workflow", () => {
    expect(() => toApiPayload([])).toThrow(/JSON object/);
    expect(() => toApiPayload({ nodes: [] })).toThrow(/name/);
    expect(() => toApiPayload({ name: "x", nodes: {} })).toThrow(/nodes must be an array/);
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: null }, u: undefined })).toBe('{"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1}');
  });
});

describe("checksum", () => {
  it("is the same for what btw sent and what n8n gives back", () => {
    expect(checksum(toApiPayload(fromN8n()))).toBe(checksum(asSent()));
  });

  it("ignores key order, node order, positions, node ids and staticData", () => {
    const p = asSent();
    const shuffled: WorkflowPayload = {
      settings: { executionOrder: "v1" },
      connections: p.connections,
      nodes: [...p.nodes].reverse().map((n) => ({ parameters: n.parameters, typeVersion: n.typeVersion, type: n.type, name: n.name, position: [999, 1], id: "other" })),
      name: "probe",
      staticData: { "node:Trigger": { recurrenceRules: [] } },
    };
    expect(checksum(shuffled)).toBe(checksum(p));
  });

  it("changes when behaviour changes", () => {
    const base = checksum(asSent());
    const edited = asSent();
    (edited.nodes[1]!.parameters as Record<string, unknown>).jsCode = "return []";
    const renamed = { ...asSent(), name: "other" };
    const disabled = asSent();
    disabled.nodes[1]!.disabled = true;
    const rewired = { ...asSent(), connections: {} };
    const zoned = { ...asSent(), settings: { executionOrder: "v1", timezone: "Europe/Paris" } };
    const credential = asSent();
    credential.nodes[1]!.credentials = { postgres: { id: "2", name: "btw Postgres" } };
    const sums = [edited, renamed, disabled, rewired, zoned, credential].map(checksum);
    expect(new Set([base, ...sums]).size).toBe(7);
  });

  it("ignores an empty connection list the editor leaves behind", () => {
    const p = asSent();
    expect(checksum({ ...p, connections: { ...p.connections, Code: { main: [[]] } } })).toBe(checksum(p));
  });

  it("is a sha256 hex digest", () => {
    expect(checksum(asSent())).toMatch(/^[0-9a-f]{64}$/);
  });
});
