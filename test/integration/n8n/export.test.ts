// Issue 16 against a REAL n8n on PostgreSQL: tenant export's statement reads n8n's own
// tables as its migrations made them (credentials without their data), and usage --enforce's
// choice, applied through the public API, leaves btw's workflows and the oldest customer one
// published.

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_TABLES_SQL, exportSql, parseContentTables, parseExport } from "../../../src/core/export/archive.js";
import { selectToUnpublish } from "../../../src/core/usage/enforce.js";
import type { N8nClient } from "../../../src/remote/n8n.js";
import { bootstrapN8n, N8N_START_TIMEOUT_MS, startN8n, type TestN8n } from "../../support/n8n.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

const OPENAI_KEY = "sk-export-test-0123456789abcdef";

const scheduled = (name: string) => ({
  name,
  nodes: [
    { name: "Weekly", type: "n8n-nodes-base.scheduleTrigger", typeVersion: 1.2, position: [0, 0] as [number, number], parameters: { rule: { interval: [{ field: "cronExpression", expression: "0 2 * * 1" }] } } },
    { name: "Noop", type: "n8n-nodes-base.noOp", typeVersion: 1, position: [220, 0] as [number, number], parameters: {} },
  ],
  connections: { Weekly: { main: [[{ node: "Noop", type: "main", index: 0 }]] } },
  settings: { executionOrder: "v1" },
});

describe("tenant export and usage --enforce on a real n8n", () => {
  let tdb: TestDatabase;
  let n8n: TestN8n;
  let api: N8nClient;
  let c: pg.Client;
  const ids: string[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    n8n = await startN8n({ databaseUrl: tdb.url });
    api = (await bootstrapN8n(n8n)).api;
    await api.createCredential({ name: "btw OpenAI", type: "openAiApi", data: { apiKey: OPENAI_KEY, header: false } });
    // WF1–WF3 stand-ins first, then three customer workflows, created in that order
    for (const name of ["WF1", "WF2", "WF3", "customer old", "customer mid", "customer new"]) {
      const w = await api.createWorkflow(scheduled(name));
      await api.activateWorkflow(w.id);
      ids.push(w.id);
      await new Promise((r) => setTimeout(r, 20)); // distinct creation times
    }
    c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
  }, N8N_START_TIMEOUT_MS);
  afterAll(async () => {
    await c?.end();
    await n8n?.stop();
    await tdb?.drop();
  });

  const text = async (sql: string) => String(Object.values((await c.query(sql)).rows[0] ?? {})[0] ?? "");

  it("the export statement reads n8n's tables: workflows, credentials' names and types only", async () => {
    const tables = parseContentTables(await text(CONTENT_TABLES_SQL));
    expect(tables).toEqual([]);
    const out = await text(exportSql(tables));
    expect(out).not.toContain(OPENAI_KEY);
    const d = parseExport(out);
    expect(d.workflows.map((w) => w.name).sort()).toEqual(["WF1", "WF2", "WF3", "customer mid", "customer new", "customer old"]);
    expect(d.workflows.every((w) => w.active === true)).toBe(true);
    expect(d.credentials).toEqual([expect.objectContaining({ name: "btw OpenAI", type: "openAiApi" })]);
    expect(Object.keys(d.credentials[0]!).sort()).toEqual(["createdAt", "id", "name", "type", "updatedAt"]);
    expect(d.executions).toEqual([]);
  });

  it("--enforce at a quota of 4 unpublishes the two newest customer workflows through the API", async () => {
    const published = (await api.listWorkflows({ active: true })).filter((w) => w.active);
    expect(published).toHaveLength(6);
    const pick = selectToUnpublish(
      published.map((w) => ({ id: w.id, name: w.name, createdAt: typeof w.createdAt === "string" ? w.createdAt : undefined })),
      new Set(ids.slice(0, 3)),
      4,
    );
    expect(pick.unpublish.map((w) => w.name)).toEqual(["customer new", "customer mid"]);
    for (const w of pick.unpublish) await api.deactivateWorkflow(w.id);
    expect((await api.listWorkflows({ active: true })).filter((w) => w.active).map((w) => w.name).sort()).toEqual(["WF1", "WF2", "WF3", "customer old"]);
  });
});
