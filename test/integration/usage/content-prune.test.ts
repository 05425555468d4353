// The content schema's retention statement against a real PostgreSQL with the tenants'
// content schema (workflows/content-schema.sql): old keywords and old clusters without an
// article go; articles, their clusters and everything recent stay.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentPruneSql, parsePruneCounts } from "../../../src/core/content/retention.js";
import { packageRoot } from "../../../src/package-root.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

describe("content prune SQL (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  let c: pg.Client;
  const count = async (table: string) => Number((await c.query(`select count(*) as n from content.${table}`)).rows[0].n);
  const one = async (sql: string) => Object.values((await c.query(sql)).rows[0] ?? {})[0];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
    await c.query(readFileSync(join(packageRoot(), "workflows", "content-schema.sql"), "utf8"));
    await c.query(`
      insert into content.seeds (keyword) values ('n8n');
      -- clusters: 1 old with an article, 2 old without, 3 old used but article-less, 4 recent
      insert into content.clusters (batch, seed_id, position, label, keywords, used, used_at, created_at) overriding system value values
        ('b-old', 1, 1, 'old with article', '{a}', true, now() - interval '300 days', now() - interval '400 days'),
        ('b-old', 1, 2, 'old unused', '{b}', false, null, now() - interval '400 days'),
        ('b-old', 1, 3, 'old used, no article', '{c}', true, now() - interval '390 days', now() - interval '400 days'),
        ('b-new', 1, 1, 'recent', '{d}', false, null, now() - interval '10 days');
      insert into content.keywords (batch, seed_id, keyword, intent, difficulty, language, word_count, cluster_id, created_at) values
        ('b-old', 1, 'a', 'informational', 10, 'en', 1, 1, now() - interval '400 days'),
        ('b-old', 1, 'b', 'informational', 10, 'en', 1, 2, now() - interval '400 days'),
        ('b-old', 1, 'x', 'commercial', 10, 'en', 1, null, now() - interval '200 days'),
        ('b-new', 1, 'd', 'informational', 10, 'en', 1, 4, now() - interval '10 days'),
        -- recent, pointing at an old cluster that goes: unlinked, kept
        ('b-new', 1, 'e', 'informational', 10, 'en', 1, 2, now() - interval '10 days');
      insert into content.articles (cluster_id, title, slug, meta_description, body_html, created_at, published_at) values
        (1, 'Old article', 'old-article', 'm', '<p>old</p>', now() - interval '300 days', now() - interval '300 days');
    `);
  });
  afterAll(async () => {
    await c?.end();
    await tdb?.drop();
  });

  it("deletes keywords and article-less clusters past the horizon, keeps articles and their clusters", async () => {
    const counts = parsePruneCounts(String(await one(contentPruneSql(180))));
    expect(counts).toEqual({ keywords: 3, clusters: 2 });
    expect((await c.query("select label from content.clusters order by id")).rows.map((r) => r.label)).toEqual(["old with article", "recent"]);
    expect((await c.query("select keyword, cluster_id from content.keywords order by id")).rows).toEqual([
      { keyword: "d", cluster_id: "4" },
      { keyword: "e", cluster_id: null },
    ]);
    expect(await count("articles")).toBe(1);
    expect(await count("seeds")).toBe(1);
  });

  it("is idempotent: a second run deletes nothing", async () => {
    expect(parsePruneCounts(String(await one(contentPruneSql(180))))).toEqual({ keywords: 0, clusters: 0 });
  });

  it("a shorter horizon reaches the recent rows; the article's cluster still stays", async () => {
    await c.query("update content.clusters set created_at = now() - interval '3 days' where label = 'recent'");
    expect(parsePruneCounts(String(await one(contentPruneSql(1))))).toEqual({ keywords: 2, clusters: 1 });
    expect(await count("clusters")).toBe(1);
    expect(await count("articles")).toBe(1);
  });
});
