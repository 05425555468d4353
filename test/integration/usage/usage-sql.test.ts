import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { monthPeriod, parseUsage, usageSql } from "../../../src/core/usage/usage.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

// usageSql against a real PostgreSQL: a tenant database without the content schema (an older
// tenant, a restore of an older backup) still counts, with 0 articles; with it, its articles.
describe("usageSql on a real PostgreSQL", () => {
  let tdb: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    client = new pg.Client({ connectionString: tdb.url });
    await client.connect();
    await client.query(`create table execution_entity ("startedAt" timestamptz, status text); create table workflow_entity (active boolean)`);
    await client.query(`insert into execution_entity values ('2026-11-03T10:00:00Z', 'success'), ('2026-11-04T10:00:00Z', 'error'), ('2026-10-30T10:00:00Z', 'success'); insert into workflow_entity values (true), (false)`);
  });
  afterAll(async () => {
    await client?.end();
    await tdb?.drop();
  });
  const usage = async () => {
    const p = monthPeriod("2026-11");
    const r = await client.query<{ u: string }>(`${usageSql(p.from, p.to)} as u`);
    return parseUsage(r.rows[0]!.u);
  };

  it("counts without the content schema: 0 articles (before: 'relation content.articles does not exist')", async () => {
    expect(await usage()).toMatchObject({ "executions.success": 1, "executions.error": 1, "executions.total": 2, "workflows.active": 1, "articles.published": 0 });
  });

  it("counts the period's published articles once the schema exists", async () => {
    await client.query(`create schema content; create table content.articles (published_at timestamptz); insert into content.articles values ('2026-11-10T00:00:00Z'), ('2026-11-11T00:00:00Z'), ('2026-12-01T00:00:00Z'), (null)`);
    expect((await usage())!["articles.published"]).toBe(2);
  });
});
