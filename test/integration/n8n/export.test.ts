// Issue 16 against a REAL n8n on PostgreSQL: tenant export's statement reads n8n's own
// tables as its migrations made them (credentials without their data). (`usage report
// --enforce` on a real n8n: test/integration/cli/usage-commands.test.ts.)

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_TABLES_SQL, exportSql, parseContentTables, parseExport } from "../../../src/core/export/archive.js";
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

describe("tenant export on a real n8n", () => {
  let tdb: TestDatabase;
  let n8n: TestN8n;
  let api: N8nClient;
  let c: pg.Client;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    n8n = await startN8n({ databaseUrl: tdb.url });
    api = (await bootstrapN8n(n8n)).api;
    await api.createCredential({ name: "btw OpenAI", type: "openAiApi", data: { apiKey: OPENAI_KEY, header: false } });
    for (const name of ["WF1", "WF2", "WF3", "customer old", "customer mid", "customer new"]) {
      const w = await api.createWorkflow(scheduled(name));
      await api.activateWorkflow(w.id);
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
});
