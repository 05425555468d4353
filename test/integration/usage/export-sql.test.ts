// tenant export's one statement against a real PostgreSQL holding n8n's tables (the columns
// it reads, as n8n 2.x names them) and the content schema: one JSON document, credentials
// without their data, executions without their payload, content tables as they exist.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_TABLES_SQL, exportSql, parseContentTables, parseExport } from "../../../src/core/export/archive.js";
import { packageRoot } from "../../../src/package-root.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

describe("tenant export SQL (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  let c: pg.Client;
  const text = async (sql: string) => String(Object.values((await c.query(sql)).rows[0] ?? {})[0] ?? "");

  beforeAll(async () => {
    tdb = await createTestDatabase();
    c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
    await c.query(`
      create table workflow_entity (id varchar(36) primary key, name varchar(128) not null, active boolean not null, nodes json not null, connections json not null,
        settings json, "staticData" json, "pinData" json, "versionId" char(36), "createdAt" timestamptz(3) not null default now(), "updatedAt" timestamptz(3) not null default now());
      create table credentials_entity (id varchar(36) primary key, name varchar(128) not null, data text not null, type varchar(128) not null,
        "createdAt" timestamptz(3) not null default now(), "updatedAt" timestamptz(3) not null default now());
      create table execution_entity (id serial primary key, finished boolean not null, mode varchar not null, "workflowId" varchar(36), status varchar,
        "startedAt" timestamptz(3), "stoppedAt" timestamptz(3), "createdAt" timestamptz(3) not null default now());
      create table execution_data (id serial, "executionId" int, data text);
      insert into workflow_entity (id, name, active, nodes, connections, settings) values ('w1', 'WF1 Seed expansion', true, '[{"name":"n","credentials":{"openAiApi":{"id":"c1","name":"btw OpenAI"}}}]', '{}', '{"executionOrder":"v1"}');
      insert into credentials_entity (id, name, data, type) values ('c1', 'btw OpenAI', 'U2FsdGVkX1-encrypted-secret', 'openAiApi');
      insert into execution_entity (finished, mode, "workflowId", status, "startedAt", "stoppedAt") values (true, 'trigger', 'w1', 'success', now(), now()), (false, 'manual', 'gone', 'error', now(), null);
      insert into execution_data ("executionId", data) values (1, 'PAYLOAD-never-exported');
    `);
  });
  afterAll(async () => {
    await c?.end();
    await tdb?.drop();
  });

  it("reads everything in one document when the content schema is absent", async () => {
    expect(parseContentTables(await text(CONTENT_TABLES_SQL))).toEqual([]);
    const out = await text(exportSql([]));
    expect(out).not.toContain("encrypted-secret");
    expect(out).not.toContain("PAYLOAD");
    const d = parseExport(out);
    expect(d.workflows).toEqual([expect.objectContaining({ id: "w1", name: "WF1 Seed expansion", active: true, settings: { executionOrder: "v1" } })]);
    expect(d.credentials.map((x) => Object.keys(x).sort())).toEqual([["createdAt", "id", "name", "type", "updatedAt"]]);
    expect(d.executions.map((e) => [e.id, e.workflowId, e.workflowName, e.status, e.mode])).toEqual([
      [1, "w1", "WF1 Seed expansion", "success", "trigger"],
      [2, "gone", null, "error", "manual"],
    ]);
    expect(d.content).toEqual({});
  });

  it("adds the content tables that exist, rows in id order", async () => {
    await c.query(readFileSync(join(packageRoot(), "workflows", "content-schema.sql"), "utf8"));
    await c.query(`insert into content.seeds (keyword) values ('b'), ('a'); insert into content.clusters (batch, position, label, keywords) values ('x', 1, 'l', '{k}')`);
    const tables = parseContentTables(await text(CONTENT_TABLES_SQL));
    expect(tables).toEqual(["seeds", "keywords", "clusters", "articles"]);
    const d = parseExport(await text(exportSql(tables)));
    expect(d.content.seeds!.map((s) => s.keyword)).toEqual(["b", "a"]);
    expect(d.content.clusters).toEqual([expect.objectContaining({ label: "l", keywords: ["k"], used: false })]);
    expect(d.content.keywords).toEqual([]);
    expect(d.content.articles).toEqual([]);
  });
});
