// The shipped WF1/WF2/WF3 on a real n8n 2.8.4: deploy (create, publish WF2 before WF1, noop,
// update in place, drift), then THE CHAIN with the fake OpenAI and the fake WordPress:
// WF1 → ≥200 keywords → WF2 → 60 clusters of 3 → one WF3 run → one article with its featured
// image on the fake WordPress, the cluster marked used.
//
// Runs are started like the editor's "Execute workflow" button (POST /rest/workflows/:id/run
// from the Schedule Trigger, N8nClient.runWorkflow): the shipped JSON keeps only its real
// triggers. The content schema lives in n8n's own database, as on a tenant.

import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checksum,
  openAiCredential,
  postgresCredential,
  toApiPayload,
  wordpressCredential,
  type DeployedWorkflow,
} from "../../../src/core/workflows/index.js";
import { FAKE_PNG, startFakeOpenAi, type FakeOpenAi } from "../../fakes/openai.js";
import { startFakeWordPress, type FakeWordPress } from "../../fakes/wordpress.js";
import { bootstrapN8n, N8N_START_TIMEOUT_MS, startN8n, type TestN8n } from "../../support/n8n.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { deployWorkflows, readManifest, WORKFLOWS_DIR } from "./deploy.js";

const OPENAI_KEY = "sk-fake-openai-key-0123456789";
const WP_USER = "btw-editor";
const WP_PASSWORD = "abcd efgh ijkl mnop";
const SEED = "running shoes";
const verbose = (line: string): void => {
  if (process.env.BTW_TEST_VERBOSE) process.stderr.write(`n8n workflows test: ${line}\n`);
};

let tdb: TestDatabase;
let n8n: TestN8n;
let db: pg.Client;
let oai: FakeOpenAi;
let wp: FakeWordPress;
let boot: Awaited<ReturnType<typeof bootstrapN8n>>;
let credentialIds: Record<string, { id: string; name: string }>;
/** the tenant's workflow_deployments (current rows), as the deployer would keep them */
let deployed: DeployedWorkflow[] = [];
const manifest = readManifest();
const trigger = (key: string): string => manifest.workflows.find((w) => w.key === key)!.trigger;

const deploy = (extra: Partial<Parameters<typeof deployWorkflows>[0]> = {}) =>
  deployWorkflows({
    client: boot.api,
    credentialIds,
    timezone: "Europe/Paris",
    parameters: { wordpressUrl: wp.url },
    deployed,
    ...extra,
  });

const schemaSql = (): string => readFileSync(path.join(WORKFLOWS_DIR, "content-schema.sql"), "utf8");

beforeAll(async () => {
  tdb = await createTestDatabase();
  n8n = await startN8n({ databaseUrl: tdb.url, timezone: "Europe/Paris" });
  verbose(`n8n ready in ${n8n.startMs} ms`);
  oai = await startFakeOpenAi({ host: "127.0.0.1", apiKey: OPENAI_KEY });
  wp = await startFakeWordPress({ host: "127.0.0.1", username: WP_USER, password: WP_PASSWORD });
  db = new pg.Client({ connectionString: tdb.url });
  await db.connect();
  await db.query(schemaSql());
  await db.query("insert into content.seeds (keyword, language) values ($1, 'en')", [SEED]);

  boot = await bootstrapN8n(n8n);
  const u = new URL(tdb.url);
  const build: Record<string, { type: string; data: Record<string, unknown> }> = {
    "btw Postgres": postgresCredential("btw Postgres", {
      host: u.hostname,
      port: Number(u.port),
      database: u.pathname.slice(1),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
    }),
    "btw OpenAI": openAiCredential("btw OpenAI", { apiKey: OPENAI_KEY, baseUrl: oai.baseUrl }),
    "btw WordPress": wordpressCredential("btw WordPress", { url: wp.url, username: WP_USER, applicationPassword: WP_PASSWORD }),
  };
  credentialIds = {};
  for (const c of manifest.credentials) {
    const { type, data } = build[c.name]!;
    expect(type).toBe(c.type);
    const created = await boot.api.createCredential({ name: c.name, type, data });
    credentialIds[c.name] = { id: created.id, name: created.name };
  }
}, N8N_START_TIMEOUT_MS);

afterAll(async () => {
  await db?.end().catch(() => {});
  await n8n?.stop();
  await oai?.close();
  await wp?.close();
  await tdb?.drop();
});

describe("content-schema.sql", () => {
  it("applies again without error and creates the four tables", async () => {
    await db.query(schemaSql());
    const r = await db.query("select table_name from information_schema.tables where table_schema = 'content' order by 1");
    expect(r.rows.map((x) => x.table_name)).toEqual(["articles", "clusters", "keywords", "seeds"]);
  });
});

describe("deploying the shipped workflows", () => {
  it("creates and publishes all three, WF2 before WF1, with credentials and WF2's id bound", async () => {
    const r = await deploy();
    expect(r.plan.map((p) => [p.key, p.action])).toEqual([
      ["wf2", "create"],
      ["wf1", "create"],
      ["wf3", "create"],
    ]);
    deployed = r.current;
    for (const key of ["wf1", "wf2", "wf3"]) {
      const live = await boot.api.getWorkflow(r.ids[key]!);
      expect(live.active).toBe(true);
      expect(live.activeVersionId).toBe(live.versionId);
      expect(live.settings.timezone).toBe("Europe/Paris");
      // what n8n stores checksums to what was recorded: no false drift later
      expect(checksum(toApiPayload(live))).toBe(deployed.find((d) => d.workflowKey === key)!.checksum);
      for (const n of live.nodes) for (const ref of Object.values(n.credentials ?? {})) expect(ref.id).toBe(credentialIds[ref.name]!.id);
    }
    const wf1 = await boot.api.getWorkflow(r.ids.wf1!);
    expect(wf1.nodes.find((n) => n.name === "Run WF2 clustering")!.parameters.workflowId).toMatchObject({ value: r.ids.wf2 });
  });

  it("a second deploy with no change does nothing", async () => {
    const before = await boot.api.listWorkflows();
    const r = await deploy();
    expect(r.plan.map((p) => [p.key, p.action, p.publish])).toEqual([
      ["wf2", "noop", false],
      ["wf1", "noop", false],
      ["wf3", "noop", false],
    ]);
    expect(r.recorded).toEqual([]);
    const after = await boot.api.listWorkflows();
    expect(after.map((w) => [w.id, w.versionId])).toEqual(before.map((w) => [w.id, w.versionId]));
  });

  it("a changed template is updated in place: same n8n ids, still published", async () => {
    const ids = Object.fromEntries(deployed.map((d) => [d.workflowKey, d.n8nId]));
    const edit = (key: string, t: Record<string, unknown>) => {
      if (key !== "wf2") return t;
      const copy = structuredClone(t) as { nodes: { name: string; parameters: Record<string, unknown> }[] };
      const code = copy.nodes.find((n) => n.name === "Build clusters")!;
      code.parameters.jsCode = `// v2\n${String(code.parameters.jsCode)}`;
      return copy;
    };
    const r = await deploy({ edit });
    expect(r.plan.map((p) => [p.key, p.action])).toEqual([
      ["wf2", "update"],
      ["wf1", "noop"],
      ["wf3", "noop"],
    ]);
    expect(r.ids.wf2).toBe(ids.wf2);
    const live = await boot.api.getWorkflow(ids.wf2!);
    expect(live.active).toBe(true);
    expect(live.activeVersionId).toBe(live.versionId);
    expect(String(live.nodes.find((n) => n.name === "Build clusters")!.parameters.jsCode)).toMatch(/^\/\/ v2/);

    // and back to the shipped template, again in place
    const back = await deploy({ deployed: r.current });
    expect(back.plan.map((p) => [p.key, p.action])).toEqual([
      ["wf2", "update"],
      ["wf1", "noop"],
      ["wf3", "noop"],
    ]);
    expect(back.ids.wf2).toBe(ids.wf2);
    deployed = back.current;
  });

  it("an edit made in the tenant's n8n is drift; a forced deploy restores the template", async () => {
    const wf3 = deployed.find((d) => d.workflowKey === "wf3")!;
    const live = toApiPayload(await boot.api.getWorkflow(wf3.n8nId!));
    (live.nodes.find((n) => n.name === "Take next cluster")!.parameters as Record<string, unknown>).query = "select 1";
    await boot.api.updateWorkflow(wf3.n8nId!, live);

    const seen = await deploy({ dryRun: true });
    expect(seen.plan.find((p) => p.key === "wf3")).toMatchObject({ action: "drift", id: wf3.n8nId, reason: "changed in n8n since it was deployed" });

    const forced = await deploy({ force: true });
    expect(forced.plan.map((p) => [p.key, p.action])).toEqual([
      ["wf2", "noop"],
      ["wf1", "noop"],
      ["wf3", "update"],
    ]);
    deployed = forced.current;
    expect((await deploy({ dryRun: true })).plan.map((p) => p.action)).toEqual(["noop", "noop", "noop"]);
  });
});

describe("the chain: WF1 → WF2 → WF3 against the fakes", () => {
  const id = (key: string): string => deployed.find((d) => d.workflowKey === key)!.n8nId!;

  it("WF1 stores ≥ 200 enriched keywords and WF2 groups them into 60 clusters of 3", async () => {
    const started = Date.now();
    const executionId = await boot.api.runWorkflow(id("wf1"), trigger("wf1"));
    const run = await boot.api.waitForExecution(executionId, 120_000);
    verbose(`WF1 (+ WF2) ran in ${Date.now() - started} ms`);
    expect(run.status, JSON.stringify(run.data ?? {}).slice(0, 2000)).toBe("success");

    const chat = oai.chatRequests();
    expect(chat).toHaveLength(1);
    expect(chat[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(chat[0]!.json).toMatchObject({ model: "gpt-4o-mini", response_format: { type: "json_object" } });
    expect(JSON.stringify(chat[0]!.json)).toContain(`Seed keyword: \\"${SEED}\\"`);

    const kw = await db.query(
      `select count(*)::int as n, count(distinct batch)::int as batches, min(batch) as batch,
              count(*) filter (where keyword like '%' || $1 || '%')::int as with_seed,
              count(distinct intent)::int as intents, min(difficulty) as dmin, max(difficulty) as dmax,
              count(*) filter (where language = 'en')::int as english
         from content.keywords`,
      [SEED],
    );
    expect(kw.rows[0]).toMatchObject({ n: 220, batches: 1, batch: executionId, with_seed: 220, english: 220 });
    expect(kw.rows[0].intents).toBeGreaterThanOrEqual(3);
    expect(kw.rows[0].dmin).toBeGreaterThanOrEqual(0);
    expect(kw.rows[0].dmax).toBeLessThanOrEqual(100);

    const wf2Runs = await boot.api.listExecutions({ workflowId: id("wf2") });
    expect(wf2Runs.map((e) => [e.status, e.mode])).toEqual([["success", "integrated"]]);
    // WF1 handed its batch to WF2 through the Execute Workflow node's inputs
    const wf2Run = await boot.api.getExecution(wf2Runs[0]!.id, { includeData: true });
    const input = (wf2Run.data as { resultData: { runData: Record<string, { data: { main: { json: unknown }[][] } }[]> } }).resultData.runData["When called by WF1"];
    expect(input?.[0]?.data.main[0]?.map((i) => i.json)).toEqual([{ batch: executionId }]);

    const cl = await db.query(
      `select count(*)::int as n, min(cardinality(keywords)) as smallest, max(cardinality(keywords)) as largest,
              count(*) filter (where used)::int as used, count(distinct batch)::int as batches
         from content.clusters`,
    );
    expect(cl.rows[0]).toEqual({ n: 60, smallest: 3, largest: 3, used: 0, batches: 1 });
    const linked = await db.query(
      `select count(*)::int as n from content.keywords k join content.clusters c on c.id = k.cluster_id where k.keyword = any (c.keywords)`,
    );
    expect(linked.rows[0].n).toBe(180);
  });

  it("one WF3 run publishes one article with its featured image and marks its cluster used", async () => {
    const next = (await db.query("select id, label, keywords from content.clusters where not used order by created_at, id limit 1")).rows[0];
    const started = Date.now();
    const executionId = await boot.api.runWorkflow(id("wf3"), trigger("wf3"));
    const run = await boot.api.waitForExecution(executionId, 120_000);
    verbose(`WF3 ran in ${Date.now() - started} ms`);
    expect(run.status, JSON.stringify(run.data ?? {}).slice(0, 2000)).toBe("success");

    // OpenAI: the article prompt names the cluster's keywords; one image in base64
    const articleCall = oai.chatRequests()[1]!;
    expect(JSON.stringify(articleCall.json)).toContain(`Primary keyword: ${next.label}`);
    const images = oai.imageRequests();
    expect(images).toHaveLength(1);
    expect(images[0]!.json).toMatchObject({ model: "dall-e-3", response_format: "b64_json" });
    expect(images[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

    // WordPress: the media upload (raw PNG, named by Content-Disposition), then the post
    const basic = `Basic ${Buffer.from(`${WP_USER}:${WP_PASSWORD}`).toString("base64")}`;
    const uploads = wp.mediaRequests();
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.status).toBe(201);
    expect(uploads[0]!.headers.authorization).toBe(basic);
    expect(uploads[0]!.headers["content-type"]).toBe("image/png");
    expect(uploads[0]!.headers["content-disposition"]).toMatch(/^attachment; filename="[a-z0-9-]+\.png"$/);
    expect(uploads[0]!.body.equals(FAKE_PNG)).toBe(true);
    const posts = wp.postRequests();
    expect(posts).toHaveLength(1);
    expect(posts[0]!.status).toBe(201);
    expect(posts[0]!.headers.authorization).toBe(basic);
    expect(wp.media).toHaveLength(1);
    expect(wp.posts).toHaveLength(1);
    const [media, post] = [wp.media[0]!, wp.posts[0]!];
    expect(post).toMatchObject({ status: "publish", featuredMedia: media.id });
    expect(post.title).toMatch(new RegExp(`^${next.label}`, "i"));
    expect(post.content).toMatch(/<h2>/);
    expect(post.excerpt.length).toBeGreaterThan(0);
    expect(media.postId).toBe(post.id);

    // the tenant's database: the article with the post's URL, its cluster used
    const art = await db.query("select cluster_id, title, slug, meta_description, outline, body_html, image_media_id, image_url, wp_post_id, url, published_at from content.articles");
    expect(art.rows).toHaveLength(1);
    expect(art.rows[0]).toMatchObject({
      cluster_id: next.id,
      title: post.title,
      slug: post.slug,
      body_html: post.content,
      meta_description: post.excerpt,
      image_media_id: String(media.id),
      image_url: media.sourceUrl,
      wp_post_id: String(post.id),
      url: post.link,
    });
    expect(art.rows[0].outline.length).toBeGreaterThan(2);
    expect(art.rows[0].published_at).toBeInstanceOf(Date);
    const used = await db.query("select id, used_at from content.clusters where used");
    expect(used.rows.map((r) => r.id)).toEqual([next.id]);
    expect(used.rows[0].used_at).toBeInstanceOf(Date);
  });

  it("the next WF3 run takes the next unused cluster", async () => {
    const executionId = await boot.api.runWorkflow(id("wf3"), trigger("wf3"));
    expect((await boot.api.waitForExecution(executionId, 120_000)).status).toBe("success");
    const r = await db.query("select count(*)::int as articles, count(distinct cluster_id)::int as clusters from content.articles");
    expect(r.rows[0]).toEqual({ articles: 2, clusters: 2 });
    expect((await db.query("select count(*)::int as n from content.clusters where used")).rows[0].n).toBe(2);
    expect(wp.posts.map((p) => p.featuredMedia)).toEqual(wp.media.map((m) => m.id));
  });

  it("WF3 stops quietly when every cluster is used: no OpenAI call, no post", async () => {
    await db.query("update content.clusters set used = true, used_at = now() where not used");
    const [chats, posts] = [oai.chatRequests().length, wp.postRequests().length];
    const executionId = await boot.api.runWorkflow(id("wf3"), trigger("wf3"));
    expect((await boot.api.waitForExecution(executionId, 60_000)).status).toBe("success");
    expect(oai.chatRequests()).toHaveLength(chats);
    expect(wp.postRequests()).toHaveLength(posts);
    expect((await db.query("select count(*)::int as n from content.articles")).rows[0].n).toBe(2);
  });
});
