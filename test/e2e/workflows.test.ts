// Time: ~7–10 min (616 s in two lanes beside unit and integration): four tenants (three created at
// once for the rollout over waves), the WF1→WF2→WF3 chain run for real against the fakes, and a
// rollout that must halt on a stopped n8n.
//
// `btw workflows …` on the lab with the real n8n: tenant create imports and publishes WF1–WF3;
// a second deploy does nothing; the chain runs against the fake OpenAI and the fake WordPress
// (bound on the lab bridge's gateway, where tenant containers inside the VMs reach them); a
// changed template is updated in place; an edit made through the tenant's API is drift,
// shown node by node; rollback restores the previous version; and a rollout over four tenants
// in waves of two halts, exit 3, when one tenant's n8n is stopped.

import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeByLabel } from "../../src/core/commands/tenant-purge.js";
import { toApiPayload } from "../../src/core/workflows/index.js";
import { FAKE_PNG, startFakeOpenAi, type FakeOpenAi } from "../fakes/openai.js";
import { startFakeWordPress, type FakeWordPress } from "../fakes/wordpress.js";
import { BTW, ROOT, stateSql, type BtwHome, type BtwResult } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";

const GATEWAY = "172.29.0.1"; // the lab bridge's address on this host: VMs (and their containers) reach it
const OPENAI_KEY = "sk-fake-e2e-0123456789abcdef";
const WP_USER = "btw-e2e-editor";
const WP_PASSWORD = "e2e1 pass word abcd";
const SEED = "trail running shoes";
const [A, B, C, D] = ["wf-a", "wf-b", "wf-c", "wf-d"];

const measure = (line: string) => process.stderr.write(`workflows e2e: ${line}\n`);

describe("workflows on the lab", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm1: LabServer;
  let vm2: LabServer;
  let oai: FakeOpenAi;
  let wp: FakeWordPress;
  const created: string[] = [];
  const scratch: string[] = [];
  const outputs: BtwResult[] = [];
  const serverOf = (t: string) => (t === B || t === D ? vm2 : vm1);

  /** The built CLI with a longer timeout than home.run (tenant create on a busy 2-core lab). */
  const btw = async (args: string[], input = ""): Promise<BtwResult> => {
    const r = await execa(process.execPath, [BTW, ...args], { env: home.env, extendEnv: false, reject: false, input, cwd: home.dir, timeout: 400_000 });
    const out = { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
    outputs.push(out);
    return out;
  };
  const json = <T>(r: BtwResult): T => JSON.parse(r.stdout) as T;
  const createTenant = async (slug: string) => {
    created.push(slug);
    const t0 = Date.now();
    const r = await btw(["tenant", "create", slug, "--server", serverOf(slug).name]);
    if (r.code !== 0) {
      // what n8n itself went through, for the failure message
      const state = await onVm(serverOf(slug), ["docker", "inspect", "--format", "{{json .State}} restarts={{.RestartCount}}", `btw-${slug}-n8n`]);
      const logs = await onVm(serverOf(slug), ["docker", "logs", "--tail", "40", `btw-${slug}-n8n`]);
      expect(r.code, `${r.stderr}\n--- n8n state: ${state.stdout}\n--- n8n logs:\n${logs.stdout}${logs.stderr}`).toBe(0);
    }
    measure(`tenant create ${slug}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  const psql = async (slug: string, sql: string): Promise<string> => {
    const r = await onVm(serverOf(slug), ["docker", "exec", `btw-${slug}-postgres`, "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", "n8n", "-d", "n8n", "-c", sql]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  const setSecret = async (slug: string, key: string, value: string) => {
    const r = await btw(["tenant", "secrets", "set", slug, key], value);
    expect(r.code, r.stderr).toBe(0);
  };

  interface StatusRow {
    tenant: string;
    workflow: string | null;
    version: string | null;
    target: string | null;
    n8nId: string | null;
    published: boolean | null;
    state: string;
    detail: string | null;
  }
  const status = async (slug: string, extra: string[] = []) => {
    const r = await btw(["workflows", "status", "--tenant", slug, "--json", ...extra]);
    expect(r.code, r.stderr).toBe(0);
    return json<{ rows: StatusRow[] }>(r).rows;
  };

  /** A copy of the shipped templates with WF2 changed (a comment line in its Code node) as `version`. */
  const changedTemplates = (version: string, marker: string): string => {
    const dir = mkdtempSync(join(tmpdir(), "btw-wf-"));
    scratch.push(dir);
    cpSync(join(ROOT, "workflows"), dir, { recursive: true });
    const file = join(dir, "WF2_clustering.json");
    const wf = JSON.parse(readFileSync(file, "utf8")) as { nodes: { name: string; parameters: { jsCode?: string } }[] };
    const code = wf.nodes.find((n) => n.name === "Build clusters")!;
    code.parameters.jsCode = `// ${marker}\n${code.parameters.jsCode}`;
    writeFileSync(file, JSON.stringify(wf, null, 2));
    const manifest = readFileSync(join(dir, "manifest.yml"), "utf8").replace(
      /(  wf2:\n(?:.*\n)*?    version: )1\n((?:.*\n)*?    changelog:\n)/,
      `$1${version}\n$2      - version: ${version}\n        changes: ["${marker}"]\n`,
    );
    expect(manifest).toContain(`version: ${version}`);
    writeFileSync(join(dir, "manifest.yml"), manifest);
    return dir;
  };

  /** The tenant's n8n through an SSH tunnel opened here, logged in as its owner (for manual runs). */
  const n8nOf = async (slug: string) => {
    const [{ SshClient }, { Host }, { openN8nTunnel }, { N8nClient }, { openDb }, { loadMasterKey }, { readSecret }, { getTenant }] = await Promise.all([
      import("../../src/remote/ssh.js"),
      import("../../src/ops/host.js"),
      import("../../src/ops/n8n-tunnel.js"),
      import("../../src/remote/n8n.js"),
      import("../../src/state/db.js"),
      import("../../src/secrets/master-key.js"),
      import("../../src/ops/tenant-secrets.js"),
      import("../../src/state/tenants.js"),
    ]);
    const s = serverOf(slug);
    const known = mkdtempSync(join(tmpdir(), "btw-wf-kh-"));
    scratch.push(known);
    const ssh = new SshClient({ name: s.name, host: s.host, port: s.port, user: s.user, identityFile: s.sshKey, knownHostsFile: join(known, "known_hosts"), controlDir: join(known, "cm") });
    const tunnel = await openN8nTunnel(new Host(s.name, ssh), slug);
    // the owner password and API key are sealed in btw's state: open them as btw would
    const db = await openDb({ dataDir: join(home.dir, "state"), command: "e2e test" });
    let password: string, apiKey: string;
    try {
      const t = (await getTenant(db, slug))!;
      const master = loadMasterKey(home.dir, home.env);
      password = (await readSecret(db, master, t.id, "N8N_OWNER_PASSWORD"))!;
      apiKey = (await readSecret(db, master, t.id, "N8N_API_KEY"))!;
    } finally {
      await db.close();
    }
    const client = new N8nClient({ baseUrl: tunnel.baseUrl, label: `n8n of ${slug}` });
    await client.login(`owner@${slug}.${LAB_DOMAIN}`, password);
    return {
      api: client.withApiKey(apiKey),
      close: async () => {
        await tunnel.close();
        await ssh.close();
      },
    };
  };

  /** Whatever an interrupted earlier run left of these tenants on the VMs (a kept n8n volume would hold another encryption key). */
  const purgeLeftovers = async () => {
    for (const vm of new Set([vm1, vm2])) {
      for (const t of [A, B, C, D]) {
        await onVm(vm, ["docker", "network", "disconnect", "-f", `btw-${t}-edge`, "btw-proxy"]);
        await onVm(vm, purgeByLabel(t));
        await onVm(vm, ["rm", "-rf", `/opt/btw/tenants/${t}`]);
      }
    }
  };

  beforeAll(async () => {
    lab = labInfo();
    [vm1, vm2] = [lab.servers[0]!, lab.servers[1] ?? lab.servers[0]!];
    await purgeLeftovers();
    home = await labHome(lab, { servers: [...new Set([vm1.name, vm2.name])] });
    oai = await startFakeOpenAi({ host: GATEWAY, apiKey: OPENAI_KEY });
    wp = await startFakeWordPress({ host: GATEWAY, username: WP_USER, password: WP_PASSWORD });
  });

  afterAll(async () => {
    await Promise.all(created.map((t) => home?.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"]).catch(() => undefined))); // at once: each takes its own tenant lock
    if (vm1) await purgeLeftovers();
    await oai?.close();
    await wp?.close();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
    home?.cleanup();
  });

  it("tenant create imports and publishes all three; status says ok", async () => {
    await createTenant(A);
    const rows = await status(A);
    expect(rows.map((r) => [r.workflow, r.version, r.target, r.published, r.state])).toEqual([
      ["wf1", "1", "1", true, "ok"],
      ["wf2", "1", "1", true, "ok"],
      ["wf3", "1", "1", true, "ok"],
    ]);
    const list = await btw(["workflows", "list", "--json"]);
    expect(json<{ workflows: { key: string; version: string }[] }>(list).workflows.map((w) => `${w.key}@${w.version}`)).toEqual(["wf1@1", "wf2@1", "wf3@1"]);
  });

  it("a second deploy with no change does nothing", async () => {
    const before = await status(A);
    const rows = async () => ((await stateSql(home, "select count(*)::int as n from workflow_deployments")) as { n: number }[])[0]!.n;
    const recorded = await rows();
    const versionIds = async () => {
      const n8n = await n8nOf(A);
      try {
        return (await n8n.api.listWorkflows()).map((w) => `${w.id}:${w.versionId}:${w.activeVersionId}`).sort();
      } finally {
        await n8n.close();
      }
    };
    const saved = await versionIds();
    expect(saved).toHaveLength(3);
    const r = await btw(["workflows", "deploy", "--tenant", A, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = json<{ tenants: { tenant: string; outcome: string; summary: string; seconds: number }[] }>(r);
    expect(report.tenants).toEqual([expect.objectContaining({ tenant: A, outcome: "unchanged", summary: "wf2 noop, wf1 noop, wf3 noop" })]);
    expect(report.tenants[0]!.seconds).toBeGreaterThan(0);
    measure(`deploy --tenant ${A} (noop): ${report.tenants[0]!.seconds} s`);
    expect((await status(A)).map((x) => x.n8nId)).toEqual(before.map((x) => x.n8nId));
    // n8n saved no new version of any workflow, and nothing new was recorded
    expect(await versionIds()).toEqual(saved);
    expect(await rows()).toBe(recorded);
  });

  it("the chain runs: WF1 stores ≥ 200 keywords, WF2 60 clusters of 3, one WF3 run publishes one article with its image", async () => {
    await setSecret(A, "OPENAI_API_KEY", OPENAI_KEY);
    await setSecret(A, "OPENAI_BASE_URL", oai.baseUrl);
    await setSecret(A, "WORDPRESS_URL", wp.url);
    await setSecret(A, "WORDPRESS_USERNAME", WP_USER);
    await setSecret(A, "WORDPRESS_APP_PASSWORD", WP_PASSWORD);
    // the new WordPress URL is a parameter of WF3: that one is updated, in place
    const ids = Object.fromEntries((await status(A)).map((x) => [x.workflow, x.n8nId]));
    const dep = await btw(["workflows", "deploy", "--tenant", A, "--json"]);
    expect(dep.code, dep.stderr).toBe(0);
    expect(json<{ tenants: { summary: string }[] }>(dep).tenants[0]!.summary).toBe("wf2 noop, wf1 noop, wf3 update");
    expect(Object.fromEntries((await status(A)).map((x) => [x.workflow, x.n8nId]))).toEqual(ids);

    await psql(A, `insert into content.seeds (keyword, language) values ('${SEED}', 'en')`);
    const n8n = await n8nOf(A);
    try {
      const t0 = Date.now();
      const wf1Run = await n8n.api.runWorkflow(ids.wf1!, "Every Monday 02:00");
      const run1 = await n8n.api.waitForExecution(wf1Run, 240_000);
      const wf1Ms = Date.now() - t0;
      expect(run1.status, JSON.stringify(run1.data ?? {}).slice(0, 2000)).toBe("success");
      expect(oai.chatRequests()).toHaveLength(1);
      expect(oai.chatRequests()[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

      const [n, batches] = (await psql(A, "select count(*), count(distinct batch) from content.keywords")).split("|").map(Number);
      expect(n).toBeGreaterThanOrEqual(200);
      expect(batches).toBe(1);
      expect(await psql(A, "select count(*) || '|' || min(cardinality(keywords)) || '|' || max(cardinality(keywords)) || '|' || count(*) filter (where used) from content.clusters")).toBe("60|3|3|0");
      const next = await psql(A, "select id || '|' || label from content.clusters where not used order by created_at, id limit 1");
      const [clusterId, label] = next.split("|");

      const t1 = Date.now();
      const wf3Run = await n8n.api.runWorkflow(ids.wf3!, "Monday and Thursday 08:00");
      const run3 = await n8n.api.waitForExecution(wf3Run, 240_000);
      const wf3Ms = Date.now() - t1;
      expect(run3.status, JSON.stringify(run3.data ?? {}).slice(0, 2000)).toBe("success");
      measure(`chain on the lab: WF1+WF2 ${(wf1Ms / 1000).toFixed(1)} s (${n} keywords, 60 clusters), WF3 ${(wf3Ms / 1000).toFixed(1)} s`);

      // the fake WordPress got the image, then the post with it as featured media
      const basic = `Basic ${Buffer.from(`${WP_USER}:${WP_PASSWORD}`).toString("base64")}`;
      expect(wp.mediaRequests()).toHaveLength(1);
      expect(wp.mediaRequests()[0]!.headers.authorization).toBe(basic);
      expect(wp.media).toHaveLength(1);
      expect(wp.media[0]!.bytes.equals(FAKE_PNG)).toBe(true);
      expect(wp.posts).toHaveLength(1);
      expect(wp.posts[0]).toMatchObject({ status: "publish", featuredMedia: wp.media[0]!.id });
      expect(wp.posts[0]!.title.toLowerCase()).toContain(label!.toLowerCase());
      expect(oai.imageRequests()).toHaveLength(1);
      // …and the tenant's database has the article with its URL, the cluster used
      expect(await psql(A, "select cluster_id || '|' || url || '|' || image_media_id from content.articles")).toBe(`${clusterId}|${wp.posts[0]!.link}|${wp.media[0]!.id}`);
      expect(await psql(A, "select string_agg(id::text, ',') from content.clusters where used")).toBe(clusterId);
    } finally {
      await n8n.close();
    }
  });

  it("tenant export: the archive lists the workflows, credentials (names, types), executions and content, and holds none of the tenant's secrets", async () => {
    const dir = mkdtempSync(join(tmpdir(), "btw-export-"));
    scratch.push(dir);
    const file = join(dir, `${A}.tar.gz`);
    const r = await btw(["tenant", "export", A, "--out", file, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const files = Object.fromEntries(json<{ manifest: { files: { path: string; rows: number }[] } }>(r).manifest.files.map((f) => [f.path, f.rows]));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // GNU tar reads it: the layout
    const listed = (await execa("tar", ["-tzf", file])).stdout.trim().split("\n");
    expect(listed).toEqual(["manifest.json", "workflows.json", "credentials.json", "executions.json", "content/seeds.json", "content/keywords.json", "content/clusters.json", "content/articles.json"].map((f) => `${A}-export/${f}`));
    const { tarUnpack } = await import("../../src/core/export/tar.js");
    const tar = gunzipSync(readFileSync(file));
    const part = (name: string) => JSON.parse(tarUnpack(tar).find((e) => e.name === `${A}-export/${name}`)!.data.toString("utf8")) as Record<string, unknown>[];
    const ids = (await status(A)).map((x) => x.n8nId);
    expect(part("workflows.json").map((w) => w.id).sort()).toEqual([...ids].sort());
    expect(part("workflows.json").map((w) => w.name).sort()).toEqual(["WF1 Seed expansion", "WF2 Clustering", "WF3 Article generation"]);
    const creds = part("credentials.json");
    expect(creds.length).toBeGreaterThan(0);
    for (const c of creds) expect(Object.keys(c).sort()).toEqual(["createdAt", "id", "name", "type", "updatedAt"]);
    // the chain's runs: metadata only
    const runs = part("executions.json");
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const e of runs) expect(Object.keys(e).sort()).toEqual(["id", "mode", "startedAt", "status", "stoppedAt", "workflowId", "workflowName"]);
    expect(files["content/keywords.json"]).toBeGreaterThanOrEqual(200);
    expect(files["content/clusters.json"]).toBe(60);
    expect(part("content/articles.json").map((a) => a.url)).toEqual([wp.posts[0]!.link]);
    expect(part("content/seeds.json").map((x) => x.keyword)).toEqual([SEED]);
    // none of the tenant's sealed secrets (as btw opens them) is anywhere in the archive
    const [{ openDb }, { loadMasterKey }, { readAllSecrets }, { getTenant }, { secretValues }] = await Promise.all([
      import("../../src/state/db.js"),
      import("../../src/secrets/master-key.js"),
      import("../../src/ops/tenant-secrets.js"),
      import("../../src/state/tenants.js"),
      import("../../src/core/export/archive.js"),
    ]);
    const db = await openDb({ dataDir: join(home.dir, "state"), command: "e2e test" });
    let secrets: string[];
    try {
      secrets = secretValues(await readAllSecrets(db, loadMasterKey(home.dir, home.env), (await getTenant(db, A))!.id));
    } finally {
      await db.close();
    }
    expect(secrets.length).toBeGreaterThanOrEqual(7);
    for (const s of [...secrets, OPENAI_KEY, WP_PASSWORD]) expect(tar.includes(Buffer.from(s, "utf8")), `a secret of ${s.length} characters is in the archive`).toBe(false);
    expect(await stateSql(home, "select target, details->>'file' as file from audit_log where action = 'tenant.export'")).toEqual([{ target: A, file }]);
  });

  // issue 22 (Also): `tenant content prune` had never run to success
  it("tenant content prune deletes the chain's keywords and article-less clusters past the plan's retention (180 days); the article, its cluster and recent keywords stay; audited", async () => {
    const n = async (sql: string) => Number(await psql(A, sql));
    const keywords = await n("select count(*) from content.keywords");
    // half the keywords and every cluster made older than the starter plan's contentRetentionDays
    await psql(A, "update content.keywords set created_at = now() - interval '200 days' where id % 2 = 0");
    await psql(A, "update content.clusters set created_at = now() - interval '200 days'");
    const old = await n("select count(*) from content.keywords where created_at < now() - interval '180 days'");
    expect(old).toBeGreaterThan(0);
    expect(old).toBeLessThan(keywords);
    const withArticle = await psql(A, "select string_agg(cluster_id::text, ',') from content.articles");
    const r = await btw(["tenant", "content", "prune", A, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ results: unknown[] }>(r).results).toEqual([{ tenant: A, server: serverOf(A).name, ok: true, days: 180, keywords: old, clusters: 59 }]);
    expect(await n("select count(*) from content.keywords")).toBe(keywords - old);
    expect(await n("select count(*) from content.keywords where created_at < now() - interval '180 days'")).toBe(0);
    expect(await psql(A, "select string_agg(id::text, ',') from content.clusters")).toBe(withArticle);
    expect(await n("select count(*) from content.articles")).toBe(1);
    expect(await n("select count(*) from content.seeds")).toBe(1);
    expect(await stateSql(home, "select target, details->>'keywords' as keywords, details->>'clusters' as clusters from audit_log where action = 'tenant.content.prune'")).toEqual([{ target: A, keywords: String(old), clusters: "59" }]);
    // a second run finds nothing more to delete
    const again = await btw(["tenant", "content", "prune", A, "--json"]);
    expect(json<{ results: Array<{ keywords: number; clusters: number }> }>(again).results[0]).toMatchObject({ keywords: 0, clusters: 0 });
  });

  it("a changed template is updated in place; an edit through the tenant's API is drift, shown node by node; rollback restores the previous version", async () => {
    const v2 = changedTemplates("2", "v2: e2e change");
    const before = Object.fromEntries((await status(A)).map((x) => [x.workflow, x.n8nId]));

    const dry = await btw(["workflows", "diff", "--tenant", A, "--workflows-dir", v2]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("wf2 1 → 2: update");
    expect(dry.stdout).toContain("~ node 'Build clusters'");
    expect(dry.stdout).toContain("+ // v2: e2e change");

    const r = await btw(["workflows", "deploy", "--tenant", A, "--workflows-dir", v2, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ tenants: { summary: string; versions: Record<string, string> }[] }>(r).tenants[0]).toMatchObject({ summary: "wf2 update 1→2, wf1 noop, wf3 noop", versions: { wf1: "1", wf2: "2", wf3: "1" } });
    const after = await status(A, ["--workflows-dir", v2]);
    expect(Object.fromEntries(after.map((x) => [x.workflow, x.n8nId]))).toEqual(before);
    expect(after.map((x) => [x.workflow, x.version, x.state])).toEqual([
      ["wf1", "1", "ok"],
      ["wf2", "2", "ok"],
      ["wf3", "1", "ok"],
    ]);

    // someone edits WF2 in the tenant's n8n (through its API, as the editor does)
    const n8n = await n8nOf(A);
    try {
      const live = toApiPayload(await n8n.api.getWorkflow(before.wf2!));
      const node = live.nodes.find((x) => x.name === "Build clusters")!;
      node.parameters.jsCode = `${String(node.parameters.jsCode)}\n// edited in the editor`;
      await n8n.api.updateWorkflow(before.wf2!, live);
    } finally {
      await n8n.close();
    }
    const drifted = await status(A, ["--workflows-dir", v2]);
    expect(drifted.find((x) => x.workflow === "wf2")).toMatchObject({ state: "drift", version: "2" });
    expect(drifted.filter((x) => x.workflow !== "wf2").map((x) => x.state)).toEqual(["ok", "ok"]);

    const diff = await btw(["workflows", "diff", "--tenant", A, "--workflows-dir", v2]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toContain("wf2 2: drift — changed in n8n since it was deployed");
    expect(diff.stdout).toContain("edited in n8n (recorded → live):");
    expect(diff.stdout).toContain("+ // edited in the editor");

    // deploy refuses to overwrite the edit; so does rollback, unless forced
    const refused = await btw(["workflows", "deploy", "--tenant", A, "--workflows-dir", v2]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/wf2 changed in n8n since deployed/);
    const noRollback = await btw(["workflows", "rollback", "--tenant", A]);
    expect(noRollback.code).toBe(1);
    expect(noRollback.stderr).toMatch(/wf2 changed in n8n since deployed; a rollback would overwrite those edits/);

    const plan = await btw(["workflows", "rollback", "--tenant", A, "--dry-run"]);
    expect(plan.stdout).toContain(`would roll wf2 (${before.wf2}) back: 2 → 1`);
    const rb = await btw(["workflows", "rollback", "--tenant", A, "--force", "--json"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(json<{ steps: unknown[] }>(rb).steps).toEqual([{ workflow: "wf2", n8nId: before.wf2, from: "2", to: "1" }]);
    // version 1 again, same id, published, matching: the shipped manifest says ok everywhere
    expect((await status(A)).map((x) => [x.workflow, x.version, x.n8nId, x.state])).toEqual([
      ["wf1", "1", before.wf1, "ok"],
      ["wf2", "1", before.wf2, "ok"],
      ["wf3", "1", before.wf3, "ok"],
    ]);
    const n8n2 = await n8nOf(A);
    try {
      const code = String((await n8n2.api.getWorkflow(before.wf2!)).nodes.find((x) => x.name === "Build clusters")!.parameters.jsCode);
      expect(code).not.toContain("v2: e2e change");
      expect(code).not.toContain("edited in the editor");
    } finally {
      await n8n2.close();
    }
    // a second rollback has nothing older than version 1
    const again = await btw(["workflows", "rollback", "--tenant", A]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/nothing to roll back/);
  });

  it("deploy --all --wave-size 2 over 4 tenants: one n8n stopped halts the rollout, exit 3, per-tenant report with seconds", async () => {
    // at once: the state admits several btw processes (two of them on the same server)
    await Promise.all([B, C, D].map((t) => createTenant(t)));
    const v3 = changedTemplates("3", "v3: rollout");
    // the plan first: waves and what each tenant would get; nothing changes
    const dry = await btw(["workflows", "deploy", "--all", "--wave-size", "2", "--workflows-dir", v3, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`wave 1/2:\n  ${A}: wf2 update 1→3, wf1 noop, wf3 noop\n  ${B}: wf2 update 1→3, wf1 noop, wf3 noop\nwave 2/2:`);
    expect(dry.stdout).toContain("(dry run: nothing changed)");
    expect((await status(C)).map((x) => x.version)).toEqual(["1", "1", "1"]);

    const stop = await onVm(serverOf(B), ["docker", "stop", `btw-${B}-n8n`]);
    expect(stop.code, stop.stderr).toBe(0);

    const r = await btw(["workflows", "deploy", "--all", "--wave-size", "2", "--workflows-dir", v3]);
    if (process.env.BTW_TEST_VERBOSE) measure(`halted rollout:\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`);
    expect(r.code, r.stderr).toBe(3);
    // progress with seconds per tenant on stderr, as they finish
    expect(r.stderr).toMatch(new RegExp(`wave 1/2: ${A}, ${B}`));
    expect(r.stderr).toMatch(new RegExp(`${A}: deployed in \\d+\\.\\d s \\(wf2 update 1→3`));
    expect(r.stderr).toMatch(new RegExp(`${B}: failed in \\d+\\.\\d s — ${B}'s n8n container is not running`));
    expect(r.stderr).toMatch(/halted after wave 1/);
    expect(r.stderr).toMatch(/error: rollout halted after wave 1\/2/);
    expect(r.stderr).not.toMatch(/wave 2\/2/);
    // the report on stdout: every tenant, its result, its versions, its seconds
    for (const [t, result, wf2] of [[A, "deployed", "3"], [B, "failed", "1"], [C, "not-started", "1"], [D, "not-started", "1"]]) {
      expect(r.stdout).toMatch(new RegExp(`^\\s*\\d\\s+${t}\\s+\\S+\\s+${result}\\s+1\\s+${wf2}\\s+1\\s+(\\d+\\.\\d s|-)`, "m"));
    }
    expect(r.stdout).toMatch(new RegExp(`at target\\s+wf1@1 wf2@3 wf3@1: 1 tenant\\(s\\) \\(${A}\\)`));
    expect(r.stdout).toMatch(new RegExp(`behind\\s+wf1@1 wf2@1 wf3@1: 3 tenant\\(s\\) \\(${B}, ${C}, ${D}\\)`));

    // the same with --json: one document, the report under error.details.rollout
    const j = await btw(["workflows", "deploy", "--all", "--wave-size", "2", "--workflows-dir", v3, "--json"]);
    expect(j.code).toBe(3);
    const doc = json<{ error: { code: string; exitCode: number; details: { rollout: { halted: unknown; tenants: { tenant: string; wave: number; outcome: string; seconds: number | null; versions: Record<string, string>; code: string | null }[] } } } }>(j);
    expect(doc.error).toMatchObject({ code: "partial", exitCode: 3 });
    const rollout = doc.error.details.rollout;
    expect(rollout.halted).toEqual({ wave: 1, failed: [B] });
    expect(rollout.tenants.map((t) => [t.tenant, t.wave, t.outcome, t.versions.wf2, t.code])).toEqual([
      [A, 1, "unchanged", "3", null],
      [B, 1, "failed", "1", "n8n-not-running"],
      [C, 2, "not-started", "1", null],
      [D, 2, "not-started", "1", null],
    ]);
    expect(rollout.tenants.slice(0, 2).every((t) => typeof t.seconds === "number")).toBe(true);

    // status over the fleet: the stopped tenant is reported, not fatal
    const st = await btw(["workflows", "status", "--json", "--workflows-dir", v3]);
    expect(st.code, st.stderr).toBe(0);
    const rows = json<{ rows: StatusRow[] }>(st).rows;
    expect(rows.find((x) => x.tenant === B)).toMatchObject({ state: "unreachable" });
    expect(rows.filter((x) => x.tenant === C).map((x) => x.state)).toEqual(["ok", "outdated", "ok"]);

    // n8n back: the same rollout completes, the fleet is at the target
    const start = await onVm(serverOf(B), ["docker", "start", `btw-${B}-n8n`]);
    expect(start.code, start.stderr).toBe(0);
    for (let i = 0; i < 90; i++) {
      const h = await onVm(serverOf(B), ["docker", "inspect", "--format", "{{.State.Health.Status}}", `btw-${B}-n8n`]);
      if (h.stdout.trim() === "healthy") break;
      await new Promise((res) => setTimeout(res, 2_000));
    }
    const t0 = Date.now();
    const done = await btw(["workflows", "deploy", "--all", "--wave-size", "2", "--workflows-dir", v3, "--json"]);
    expect(done.code, done.stderr).toBe(0);
    const report = json<{ tenants: { tenant: string; outcome: string; seconds: number; current: boolean }[]; wavesRun: number }>(done);
    expect(report.tenants.map((t) => [t.tenant, t.outcome, t.current])).toEqual([
      [A, "unchanged", true],
      [B, "deployed", true],
      [C, "deployed", true],
      [D, "deployed", true],
    ]);
    measure(`deploy --all --wave-size 2 (4 tenants, 3 updated): ${((Date.now() - t0) / 1000).toFixed(1)} s; per tenant ${report.tenants.map((t) => `${t.tenant} ${t.seconds} s`).join(", ")}`);
  });

  it("no secret reached any output", () => {
    for (const o of outputs) for (const s of [OPENAI_KEY, WP_PASSWORD]) expect(o.stdout + o.stderr).not.toContain(s);
  });
});
