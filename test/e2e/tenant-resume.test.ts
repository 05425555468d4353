// Time: ~5–8 min (493 s in two lanes beside unit and integration, 2026-12-06): seven creates on one
// server — four killed at a step and resumed, two racing for one name, two at once from one
// prepared database (refused and rebuilt first), compared field by field.
//
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tenantSecret, type BtwHome, killDuring } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { prepareAndClone } from "../../src/core/tenant/prepared-db.js";

/** Run by node in a tenant's n8n container: logs in (owner JSON on stdin), prints the instance id. */
const INSTANCE_ID_SCRIPT = `
let input = "";
process.stdin.on("data", (c) => (input += c)).on("end", async () => {
  const base = "http://127.0.0.1:5678";
  const login = await fetch(base + "/rest/login", { method: "POST", headers: { "content-type": "application/json" }, body: input });
  if (!login.ok) { console.error("login: HTTP " + login.status); process.exit(1); }
  const cookie = (login.headers.get("set-cookie") || "").split(";")[0];
  const settings = await (await fetch(base + "/rest/settings", { headers: { cookie } })).json();
  if (!settings.data || !settings.data.instanceId) { console.error("no instanceId in /rest/settings"); process.exit(1); }
  console.log(settings.data.instanceId);
});`;

const containersOf = async (vm: LabServer, slug: string) =>
  (await onVm(vm, ["docker", "ps", "-a", "--filter", `label=btw.tenant=${slug}`, "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean).sort();

describe("tenant create: kill and resume, concurrency", () => {
  let lab: LaneLab;
  let vm: LabServer;
  let pg: TestPostgres;
  let home: BtwHome;
  const created: string[] = [];

  beforeAll(async () => {
    lab = labInfo();
    vm = lab.servers[0]!;
    // A real PostgreSQL as the state: tenant locks are advisory locks there (and the
    // embedded store would serialise the two concurrent processes anyway).
    pg = await startPostgres();
    home = await labHome(lab, { servers: [vm.name], env: { BTW_DATABASE_URL: `${pg.url}/postgres` } });
  });
  afterAll(async () => {
    // at once (each takes its own tenant lock); one that lost a race for the server's proxy
    // lock again alone: a tenant left running costs every later file on this lane its CPU
    const purge = (t: string) => home!.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"]);
    const first = home ? await Promise.all(created.map(async (t) => ({ t, r: await purge(t) }))) : [];
    for (const { t, r } of first.filter((x) => x.r.code !== 0)) {
      const again = await purge(t);
      if (again.code !== 0) console.error(`tenant-resume: ${t} not purged (exit ${r.code}, then ${again.code}): ${again.stderr.trim().split("\n").pop()}`);
    }
    home?.cleanup();
    await pg?.stop();
  });

  it.each([
    ["clone the prepared n8n database", "database"],
    ["start the stack and wait until healthy", "up"],
    ["set up n8n", "n8n"],
    ["route the tenant through the proxy", "route"],
  ])("killed during '%s', a second create completes it without duplicates", async (title, step) => {
    const slug = `kill-${step}`;
    created.push(slug);
    const args = ["tenant", "create", slug, "--plan", "starter", "--server", vm.name];
    await killDuring(home, args, title);
    const [row] = (await stateSql(home, "select status from tenants where slug = $1", [slug])) as { status: string }[];
    expect(row!.status).toBe("provisioning");

    const r = await home.run(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/done earlier/); // it resumed rather than starting over

    const rows = (await stateSql(home, "select status, subnet::text from tenants where slug = $1", [slug])) as { status: string; subnet: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe("active");
    expect(await containersOf(vm, slug)).toEqual([`btw-${slug}-n8n`, `btw-${slug}-postgres`, `btw-${slug}-redis`, `btw-${slug}-runner`]);
    const deployments = (await stateSql(home, "select count(*)::int as n from workflow_deployments w join tenants t on t.id = w.tenant_id where t.slug = $1", [slug])) as { n: number }[];
    expect(deployments[0]!.n).toBe(3);
  });

  it("gives every tenant its own subnet", async () => {
    const rows = (await stateSql(home, "select subnet::text as s from tenants where status <> 'deleted'")) as { s: string }[];
    expect(new Set(rows.map((r) => r.s)).size).toBe(rows.length);
  });

  it("two creates of the same tenant: one proceeds, the other exits 75 at once naming the holder", async () => {
    created.push("twin");
    const args = ["tenant", "create", "twin", "--plan", "starter", "--server", vm.name];
    const first = home.run(args);
    // The first holds the tenant's lock once its row exists (the lock is taken before the
    // insert and held to the end): wait for that event rather than a fixed time.
    const deadline = Date.now() + 120_000;
    while (((await stateSql(home, "select 1 from tenants where slug = 'twin'")) as unknown[]).length === 0) {
      expect(Date.now(), "the first create never registered the tenant").toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    const t0 = Date.now();
    const second = await home.run(args);
    expect(second.code, second.stderr).toBe(75);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(second.stderr).toMatch(/btw tenant create twin/);
    expect(second.stderr).toMatch(/pid \d+/);
    const r = await first;
    expect(r.code, r.stderr).toBe(0);
  });

  it("creates of different tenants on one server both succeed, from one prepared database (refused and rebuilt first: its manifest names another n8n) and sharing no identity", async () => {
    created.push("par-a", "par-b");
    // The creates above found none on this server and had one made in the background; this
    // waits for it (wait mode: the lock), as if it had been made from another n8n image first.
    const prepare = async () => {
      const r = await onVm(vm, prepareAndClone({ n8nImage: lab.images.n8n, postgresImage: lab.images.postgres, wait: true }), undefined, 600_000);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const first = await prepare();
    expect(first).toMatch(/^prepared [0-9a-f]{16} (ready|built)$/m);
    // Only this image pair's directory: other files of the suite may have left ones for other
    // n8n versions on this server, which this check must not read.
    const key = /^prepared ([0-9a-f]{16}) /m.exec(first)![1]!;
    const manifest = `/opt/btw/prepared/${key}/manifest.json`;
    const tamper = await onVm(vm, ["sed", "-i", 's/"n8nImageId":"sha256:[0-9a-f]*"/"n8nImageId":"sha256:0000"/', manifest]);
    expect(tamper.code, tamper.stderr).toBe(0);
    const again = await prepare();
    expect(again).toMatch(/^prepared [0-9a-f]{16} refused: its manifest names other images or another recipe; rebuilding$/m);
    expect(again).toMatch(/^prepared [0-9a-f]{16} built$/m);
    expect((await onVm(vm, ["cat", manifest])).stdout).not.toContain("sha256:0000");
    expect((await onVm(vm, ["cat", manifest])).stdout).toMatch(/"n8nImageId":"sha256:[0-9a-f]{64}"/);
    const [a, b] = await Promise.all([
      home.run(["tenant", "create", "par-a", "--plan", "starter", "--server", vm.name]),
      home.run(["tenant", "create", "par-b", "--plan", "starter", "--server", vm.name]),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    for (const r of [a, b]) expect(r.stderr).toMatch(/clone the prepared n8n database: [0-9a-f]{16}/);
    const rows = (await stateSql(home, "select slug, subnet::text as s from tenants where slug in ('par-a','par-b')")) as { s: string }[];
    expect(new Set(rows.map((r) => r.s)).size).toBe(2);

    // Field by field, nothing shared: ids, keys, passwords, instance, webhooks.
    const identity = async (slug: string) => {
      const q = async (sql: string) => {
        const r = await onVm(vm, ["docker", "exec", `btw-${slug}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-Atc", sql]);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout.trim();
      };
      // n8n shows its instance id to a signed-in user only: log in as the owner (password on stdin)
      const owner = JSON.stringify({ emailOrLdapLoginId: `owner@${slug}.${LAB_DOMAIN}`, password: await tenantSecret(home, slug, "N8N_OWNER_PASSWORD") });
      const settings = await onVm(vm, ["docker", "exec", "-i", `btw-${slug}-n8n`, "node", "-e", INSTANCE_ID_SCRIPT], owner);
      expect(settings.code, settings.stderr).toBe(0);
      return {
        ownerIds: await q('select string_agg(id::text, \',\' order by id) from "user"'),
        ownerPasswordHashes: await q('select string_agg(coalesce(password, \'\'), \',\') from "user"'),
        projectIds: await q("select string_agg(id, ',' order by id) from project"),
        apiKeys: await q("select string_agg(\"apiKey\", ',') from user_api_keys"),
        databasePasswordHash: await q("select rolpassword from pg_authid where rolname = 'n8n'"),
        webhookIds: await q("select coalesce(string_agg(\"webhookPath\", ',' order by \"webhookPath\"), '') from webhook_entity"),
        credentialIds: await q("select coalesce(string_agg(id, ',' order by id), '') from credentials_entity"),
        workflowIds: await q("select string_agg(id, ',' order by id) from workflow_entity"),
        instanceId: settings.stdout.trim(),
      };
    };
    const [ia, ib] = await Promise.all([identity("par-a"), identity("par-b")]);
    for (const field of Object.keys(ia) as (keyof typeof ia)[]) {
      // (a starter plan's workflows are not published: no webhook registered, none to compare)
      if (field === "webhookIds" && ia.webhookIds === "" && ib.webhookIds === "") continue;
      expect(ia[field], `${field} of par-a is set`).not.toBe("");
      const shared = ia[field].split(",").filter((v) => v !== "" && ib[field].split(",").includes(v));
      expect(shared, `${field}: par-a and par-b share ${shared.join(", ")}`).toEqual([]);
    }
    // the owner is the tenant's own, with the personal project repointed to it
    expect(ia.ownerIds.split(",")).toHaveLength(1);
  });
});
