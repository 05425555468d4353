// `btw workflows …` through the built CLI where no n8n answers: bad input exits 2 before
// anything is touched, broken templates are refused up front, an unreachable tenant is a
// row in `status` (not a failure) and a failed tenant halts `deploy --all` with exit 3 and
// a per-tenant report. The real n8n side is test/e2e/workflows.test.ts.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, errorLines, stateSql, tempHome, type BtwHome } from "../../support/cli.js";

describe("workflows commands without a reachable n8n", () => {
  let home: BtwHome;
  const scratch: string[] = [];

  beforeAll(async () => {
    home = tempHome();
    expect((await home.run(["init", "--domain", "example.com"])).code).toBe(0);
    // a server nobody answers on, as if it had passed `server check` and gone down since
    expect((await home.run(["server", "add", "dead", "--host", "127.0.0.1", "--port", "9", "--capacity", "10", "--no-verify"])).code).toBe(0);
    await stateSql(home, "update servers set status = 'active'");
    await stateSql(
      home,
      `insert into tenants (slug, plan, server_id, status, timezone)
       select t.slug, 'starter', s.id, t.status, 'UTC' from servers s,
         (values ('acme', 'active'), ('beta', 'active'), ('sleepy', 'suspended')) as t (slug, status)`,
    );
    // sealed API keys, as provisioning leaves them: the commands get as far as SSH
    const [{ openDb }, { loadMasterKey }, { storeSecrets }] = await Promise.all([
      import("../../../src/state/db.js"),
      import("../../../src/secrets/master-key.js"),
      import("../../../src/ops/tenant-secrets.js"),
    ]);
    const db = await openDb({ dataDir: join(home.dir, "state"), command: "test fixture" });
    try {
      const master = loadMasterKey(home.dir, home.env);
      for (const r of (await db.query<{ id: number }>("select id from tenants")).rows) await storeSecrets(db, master, r.id, { N8N_API_KEY: "n8n_api_fake" });
    } finally {
      await db.close();
    }
  });
  afterAll(() => {
    home?.cleanup();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });

  const workflowAudit = async () => ((await stateSql(home, "select action from audit_log where action like 'workflows.%' order by id")) as { action: string }[]).map((r) => r.action);

  it("list shows the manifest: versions, triggers, credentials, latest changes", async () => {
    const r = await home.run(["workflows", "list", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { source: string; workflows: { key: string; version: string; trigger: string; calls: string[]; credentials: { name: string; type: string }[]; latest: { changes: string[] } }[] };
    expect(out.source).toBe("shipped");
    expect(out.workflows.map((w) => [w.key, w.version, w.trigger, w.calls])).toEqual([
      ["wf1", "1", "Every Monday 02:00", ["wf2"]],
      ["wf2", "1", "When called by WF1", []],
      ["wf3", "1", "Monday and Thursday 08:00", []],
    ]);
    expect(out.workflows[2]!.credentials.map((c) => c.type)).toEqual(["postgres", "openAiApi", "wordpressApi"]);
    expect(out.workflows.every((w) => w.latest.changes.length > 0)).toBe(true);
    const human = await home.run(["workflows", "list"]);
    expect(human.stdout).toMatch(/^KEY\s+NAME\s+VERSION\s+TRIGGER\s+CREDENTIALS$/m);
  });

  it.each([
    ["no target", ["workflows", "deploy"], /--tenant <name> or --all/],
    ["both targets", ["workflows", "deploy", "--tenant", "acme", "--all"], /--tenant <name> or --all/],
    ["an unknown tenant", ["workflows", "deploy", "--tenant", "nope"], /tenant 'nope' does not exist/],
    ["a suspended tenant", ["workflows", "deploy", "--tenant", "sleepy"], /it is suspended/],
    ["a wave size of 0", ["workflows", "deploy", "--all", "--wave-size", "0"], /expected 1–1000/],
    ["diff without a tenant", ["workflows", "diff"], /required option '--tenant <name>'/],
  ])("deploy/diff with %s exits 2 and touches nothing", async (_what, args, message) => {
    const r = await home.run(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(await workflowAudit()).toEqual([]);
  });

  it("refuses broken templates before contacting any tenant, listing every problem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "btw-wf-bad-"));
    scratch.push(dir);
    cpSync(join(ROOT, "workflows"), dir, { recursive: true });
    const file = join(dir, "WF3_generation.json");
    const wf = JSON.parse(readFileSync(file, "utf8")) as { nodes: { credentials?: Record<string, { id: string; name: string }> }[] };
    const withCred = wf.nodes.find((n) => n.credentials)!;
    const type = Object.keys(withCred.credentials!)[0]!;
    withCred.credentials![type] = { id: "42", name: "someone's credential" };
    writeFileSync(file, JSON.stringify(wf));
    writeFileSync(join(dir, "WF1_seed_expansion.json"), "{ not json");
    const r = await home.run(["workflows", "deploy", "--all", "--workflows-dir", dir]);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/the workflow templates \(.*\) have \d+ problems:/);
    expect(r.stderr).toContain("WF1_seed_expansion.json: not valid JSON");
    expect(r.stderr).toContain("uses credential 'someone's credential', not listed for wf3");
    expect(r.stderr).toContain("holds credential id '42'");
    expect(r.stderr).not.toMatch(/wave 1/);
    expect(await workflowAudit()).toEqual([]);
  });

  it("status reports an unreachable tenant as a row, a suspended one without contacting it, and exits 0", async () => {
    const r = await home.run(["workflows", "status", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { rows: { tenant: string; workflow: string | null; state: string; detail: string | null }[] }).rows;
    expect(rows.filter((x) => x.tenant === "acme")).toEqual([expect.objectContaining({ workflow: null, state: "unreachable" })]);
    expect(rows.find((x) => x.tenant === "acme")!.detail).toMatch(/dead|127\.0\.0\.1|refused|connect/i);
    expect(rows.filter((x) => x.tenant === "sleepy").map((x) => [x.workflow, x.state])).toEqual([
      ["wf1", "suspended"],
      ["wf2", "suspended"],
      ["wf3", "suspended"],
    ]);
    expect(r.stderr).toMatch(/warning: acme: unreachable/);
  });

  it("deploy --all halts after the first wave with a failed tenant: exit 3, one JSON document with the per-tenant report", async () => {
    const r = await home.run(["workflows", "deploy", "--all", "--wave-size", "1", "--json"]);
    expect(r.code, r.stderr).toBe(3);
    const doc = JSON.parse(r.stdout) as { error: { code: string; exitCode: number; message: string; details: { rollout: { halted: unknown; counts: Record<string, number>; tenants: { tenant: string; wave: number | null; outcome: string; seconds: number | null; versions: object; error: string | null }[] } } } };
    expect(doc.error).toMatchObject({ code: "partial", exitCode: 3 });
    expect(doc.error.message).toMatch(/^rollout halted after wave 1\/2: acme \(/);
    const { rollout } = doc.error.details;
    expect(rollout.halted).toEqual({ wave: 1, failed: ["acme"] });
    expect(rollout.counts).toEqual({ deployed: 0, unchanged: 0, failed: 1, "not-started": 1, skipped: 1 });
    expect(rollout.tenants.map((t) => [t.tenant, t.wave, t.outcome, t.versions])).toEqual([
      ["acme", 1, "failed", {}],
      ["beta", 2, "not-started", {}],
      ["sleepy", null, "skipped", {}],
    ]);
    expect(typeof rollout.tenants[0]!.seconds).toBe("number");
    expect(rollout.tenants[2]!.error).toMatch(/btw tenant resume sleepy/);
    expect(await workflowAudit()).toEqual(["workflows.rollout"]);
  });

  it("deploy --tenant on an unreachable tenant exits 1 with the connection error itself", async () => {
    const r = await home.run(["workflows", "deploy", "--tenant", "acme"]);
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/wave 1\/1: acme/);
    expect(r.stderr).toMatch(/acme: failed in \d+\.\d s/);
  });

  it("rollback with no history says so from the state alone (exit 2); its dry run lists why", async () => {
    const dry = await home.run(["workflows", "rollback", "--tenant", "acme", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("wf2: unchanged (never deployed)");
    const r = await home.run(["workflows", "rollback", "--tenant", "acme"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/acme: nothing to roll back \(wf2: never deployed; wf1: never deployed; wf3: never deployed\)/);
  });
});
