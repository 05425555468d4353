import { describe, expect, it } from "vitest";
import { OperationError } from "../../../src/errors.js";
import { checksum, toApiPayload } from "../../../src/core/workflows/payload.js";
import { bindTemplate, templateProblems } from "../../../src/core/workflows/template.js";
import { shippedManifest, shippedTemplate } from "./helpers.js";

const manifest = shippedManifest();
const entry = (key: string) => manifest.workflows.find((w) => w.key === key)!;
const CREDS = {
  "btw Postgres": { id: "pg1", name: "btw Postgres" },
  "btw OpenAI": { id: "oa1", name: "btw OpenAI" },
  "btw WordPress": { id: "wp1", name: "btw WordPress" },
};

type Node = { name: string; type: string; parameters: Record<string, unknown>; credentials?: Record<string, { id?: string; name: string }> };
const nodesOf = (wf: unknown): Node[] => (wf as { nodes: Node[] }).nodes;
const node = (wf: unknown, name: string): Node => nodesOf(wf).find((n) => n.name === name)!;

describe("the shipped templates", () => {
  it.each(["wf1", "wf2", "wf3"])("%s matches its manifest entry and holds nothing tenant-specific", (key) => {
    expect(templateProblems(entry(key), manifest, shippedTemplate(entry(key).file))).toEqual([]);
  });

  it("use the n8n 2.x node types from N8N.md", () => {
    const types = new Set(manifest.workflows.flatMap((w) => nodesOf(shippedTemplate(w.file)).map((n) => n.type)));
    expect([...types].sort()).toEqual([
      "@n8n/n8n-nodes-langchain.openAi",
      "n8n-nodes-base.code",
      "n8n-nodes-base.executeWorkflow",
      "n8n-nodes-base.executeWorkflowTrigger",
      "n8n-nodes-base.httpRequest",
      "n8n-nodes-base.postgres",
      "n8n-nodes-base.scheduleTrigger",
      "n8n-nodes-base.set",
    ]);
  });

  it("schedule WF1 on Monday 02:00 and WF3 on Monday and Thursday 08:00", () => {
    const cron = (file: string, name: string) => (node(shippedTemplate(file), name).parameters.rule as { interval: { expression: string }[] }).interval[0]!.expression;
    expect(cron("WF1_seed_expansion.json", entry("wf1").trigger)).toBe("0 2 * * 1");
    expect(cron("WF3_generation.json", entry("wf3").trigger)).toBe("0 8 * * 1,4");
  });

  it("are already stripped to what the public API accepts", () => {
    for (const w of manifest.workflows) {
      const raw = shippedTemplate(w.file);
      expect(toApiPayload(raw)).toEqual(raw);
    }
  });
});

describe("bindTemplate", () => {
  it("fills credential ids by name, WF2's id, the timezone — and changes nothing else", () => {
    const raw = shippedTemplate(entry("wf1").file);
    const bound = bindTemplate(raw, { credentialIds: CREDS, workflowIds: { wf2: "Wf2Id" }, timezone: "Europe/Paris" });
    expect(node(bound, "Read seeds").credentials).toEqual({ postgres: { id: "pg1", name: "btw Postgres" } });
    expect(node(bound, "Generate variations").credentials).toEqual({ openAiApi: { id: "oa1", name: "btw OpenAI" } });
    expect(node(bound, "Run WF2 clustering").parameters.workflowId).toEqual({ __rl: true, mode: "id", value: "Wf2Id" });
    expect(bound.settings.timezone).toBe("Europe/Paris");
    // undo the binding: what is left is the template
    const unbound = structuredClone(bound);
    delete unbound.settings.timezone;
    for (const n of unbound.nodes) for (const ref of Object.values(n.credentials ?? {})) ref.id = "";
    (node(unbound, "Run WF2 clustering").parameters.workflowId as { value: string }).value = "btw:workflow:wf2";
    expect(unbound).toEqual(raw);
  });

  it("fills per-tenant parameters (WF3's WordPress URL)", () => {
    const bound = bindTemplate(shippedTemplate(entry("wf3").file), { credentialIds: CREDS, parameters: { wordpressUrl: "https://blog.example.com" } });
    const settings = node(bound, "Tenant settings").parameters.assignments as { assignments: { name: string; value: string }[] };
    expect(settings.assignments.find((a) => a.name === "wordpressUrl")!.value).toBe("https://blog.example.com");
    expect(JSON.stringify(bound)).not.toMatch(/btw:/);
  });

  it("does not modify the template it is given", () => {
    const raw = shippedTemplate(entry("wf1").file);
    const copy = structuredClone(raw);
    bindTemplate(raw, { credentialIds: CREDS, workflowIds: { wf2: "x" } });
    expect(raw).toEqual(copy);
  });

  it("refuses to bind half a workflow and lists everything missing", () => {
    const raw = shippedTemplate(entry("wf3").file);
    let err: unknown;
    try {
      bindTemplate(raw, { credentialIds: { "btw Postgres": CREDS["btw Postgres"] } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OperationError);
    expect((err as OperationError).code).toBe("workflow-bind");
    expect((err as Error).message).toBe("cannot bind workflow 'WF3 Article generation': missing parameter wordpressUrl, credential 'btw OpenAI', credential 'btw WordPress'");
  });

  it("needs the called workflow's id", () => {
    expect(() => bindTemplate(shippedTemplate(entry("wf1").file), { credentialIds: CREDS })).toThrow(/missing workflow id of wf2/);
  });

  it("gives each tenant its own checksum and the same tenant the same one", () => {
    const raw = shippedTemplate(entry("wf2").file);
    const a = checksum(bindTemplate(raw, { credentialIds: CREDS, timezone: "UTC" }));
    const b = checksum(bindTemplate(raw, { credentialIds: { ...CREDS, "btw Postgres": { id: "pg2", name: "btw Postgres" } }, timezone: "UTC" }));
    expect(a).not.toBe(b);
    expect(checksum(bindTemplate(raw, { credentialIds: CREDS, timezone: "UTC" }))).toBe(a);
  });
});

describe("templateProblems", () => {
  const wf1 = () => structuredClone(shippedTemplate(entry("wf1").file));

  it("finds credential ids, undeclared credentials and wrong types", () => {
    const t = wf1();
    node(t, "Read seeds").credentials = { postgres: { id: "17", name: "btw Postgres" } };
    node(t, "Generate variations").credentials = { httpHeaderAuth: { name: "btw OpenAI" } };
    node(t, "Store keywords").credentials = { postgres: { name: "btw WordPress" } };
    expect(templateProblems(entry("wf1"), manifest, t)).toEqual([
      "WF1_seed_expansion.json: node 'Read seeds' holds credential id '17': templates reference credentials by name only",
      "WF1_seed_expansion.json: node 'Generate variations' uses 'btw OpenAI' as httpHeaderAuth, the manifest says openAiApi",
      "WF1_seed_expansion.json: node 'Store keywords' uses credential 'btw WordPress', not listed for wf1 in the manifest",
      "WF1_seed_expansion.json: node 'Store keywords' uses 'btw WordPress' as postgres, the manifest says wordpressApi",
    ]);
  });

  it("finds placeholders that do not match the manifest, a timezone, and broken connections", () => {
    const t = wf1() as { settings: Record<string, unknown>; connections: Record<string, unknown> };
    (node(t, "Run WF2 clustering").parameters.workflowId as { value: string }).value = "btw:workflow:wf3";
    node(t, "Read seeds").parameters.query = "btw:param:seedTable";
    node(t, "Enrich keywords").parameters.extra = "btw:something";
    t.settings.timezone = "Europe/Paris";
    t.connections["Ghost"] = { main: [[{ node: "Nowhere", type: "main", index: 0 }]] };
    expect(templateProblems(entry("wf1"), manifest, t)).toEqual([
      "WF1_seed_expansion.json: connections start at unknown node 'Ghost'",
      "WF1_seed_expansion.json: connection from 'Ghost' goes to unknown node 'Nowhere'",
      "WF1_seed_expansion.json: btw:workflow:wf3 is used but 'wf3' is not in wf1.calls",
      "WF1_seed_expansion.json: wf1.calls lists 'wf2' but no node holds btw:workflow:wf2",
      "WF1_seed_expansion.json: btw:param:seedTable is used but not in wf1.parameters",
      "WF1_seed_expansion.json: unknown placeholder 'btw:something'",
      "WF1_seed_expansion.json: settings.timezone is set at deploy (the tenant's zone), not in the template",
    ]);
  });

  it("checks the name and the trigger node against the manifest", () => {
    const t = wf1() as { name: string };
    t.name = "Renamed";
    node(t, "Every Monday 02:00").name = "Cron";
    const p = templateProblems(entry("wf1"), manifest, t);
    expect(p).toContain("WF1_seed_expansion.json: name is 'Renamed' but the manifest says 'WF1 Seed expansion'");
    expect(p).toContain("WF1_seed_expansion.json: trigger node 'Every Monday 02:00' (manifest) does not exist");
  });
});
