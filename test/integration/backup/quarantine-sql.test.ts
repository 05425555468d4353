// QUARANTINE_SQL on a real PostgreSQL, against the parts of n8n's schema it touches, as n8n
// 2.8.4 has them (activation by "activeVersionId": WorkflowRepository.getAllActiveIds) and
// as 1.x had them (no such column): nothing may stay active, waiting or hooked.
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { QUARANTINE_SQL } from "../../../src/core/backup/scratch.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

const N8N_2X = `
  create table workflow_entity (id varchar primary key, name text, active boolean not null default false, "activeVersionId" varchar);
  create table execution_entity (id serial primary key, status varchar, "waitTill" timestamptz);
  create table webhook_entity ("webhookPath" varchar, method varchar, "workflowId" varchar);
  insert into workflow_entity values ('wf1', 'WF1', true, 'v1'), ('wf2', 'WF2', false, null), ('wf3', 'WF3', true, 'v3');
  insert into execution_entity (status, "waitTill") values ('waiting', now() + interval '1 hour'), ('success', null);
  insert into webhook_entity values ('hook', 'POST', 'wf1');`;

const N8N_1X = `
  create table workflow_entity (id varchar primary key, name text, active boolean not null default false);
  create table execution_entity (id serial primary key, status varchar, "waitTill" timestamptz);
  insert into workflow_entity values ('wf1', 'WF1', true), ('wf2', 'WF2', false);`;

describe("QUARANTINE_SQL", () => {
  const dbs: TestDatabase[] = [];
  const clients: pg.Client[] = [];
  const open = async (schema: string) => {
    const db = await createTestDatabase();
    dbs.push(db);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    clients.push(c);
    await c.query(schema);
    return c;
  };
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    for (const d of dbs) await d.drop();
  });

  it("n8n 2.x: no workflow left published or active, no wait pending, no webhook; rows kept", async () => {
    const c = await open(N8N_2X);
    await c.query(QUARANTINE_SQL);
    const q = async (sql: string) => (await c.query(sql)).rows[0] as Record<string, unknown>;
    expect(await q(`select count(*)::int as n, count(*) filter (where active or "activeVersionId" is not null)::int as live from workflow_entity`)).toEqual({ n: 3, live: 0 });
    expect(await q(`select count(*)::int as n, count("waitTill")::int as waiting from execution_entity`)).toEqual({ n: 2, waiting: 0 });
    expect(await q(`select count(*)::int as n from webhook_entity`)).toEqual({ n: 0 });
  });

  it("n8n 1.x schema (no activeVersionId, no webhook table) works too", async () => {
    const c = await open(N8N_1X);
    await c.query(QUARANTINE_SQL);
    expect((await c.query(`select count(*) filter (where active)::int as live from workflow_entity`)).rows[0]).toEqual({ live: 0 });
  });
});
