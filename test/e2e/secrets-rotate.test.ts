import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, type BtwHome, runLong } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { credentialData, makeExecutions, scrubTenant, snapshot, tenantApi, tenantSecrets } from "../integration/backup/tenant-api.js";

// Time: ~4–8 min (448 s in two lanes beside unit and integration, 2026-12-06): a tenant, a master-key
// rotation, two restores of backups sealed before it, and a live secrets rotation.
//
// Key and secret rotation on the lab (issue 13), one tenant created once: a backup taken
// before `key rotate` restores after it; `tenant secrets rotate` gives a live tenant new
// Postgres/Redis passwords and a new n8n API key, and its workflows, credentials and
// executions stay — with an execution before and after.

const T = "rot-a";

describe("key and secret rotation (lab)", () => {
  let lab: LaneLab;
  let vm: LabServer;
  let home: BtwHome;
  type Snap = Awaited<ReturnType<typeof snapshot>>;
  let before: Snap;

  const data = async () => {
    const api = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      const snap = await snapshot(api);
      for (const c of snap.credentials) expect((await credentialData(api, c.id)).status, `credential ${c.name} decrypts`).toBe(200);
      return snap;
    } finally {
      api.close();
    }
  };
  const psqlWith = (password: string) =>
    // through the container's network address, as n8n connects: the official image (and the
    // lab's) trusts 127.0.0.1 inside the container, which would accept any password
    onVm(vm, ["docker", "exec", "-i", `btw-${T}-postgres`, "sh", "-c", 'PGPASSWORD="$(cat)" psql -h "$(hostname -i | cut -d " " -f1)" -U n8n -d n8n -Atc "select 1"'], password);

  beforeAll(async () => {
    lab = labInfo();
    vm = lab.servers[0]!;
    await scrubTenant(vm, T);
    home = await labHome(lab, { servers: [vm.name] });
    const r = await runLong(home, ["tenant", "create", T, "--plan", "starter", "--server", vm.name]);
    expect(r.code, r.stderr).toBe(0);
    const api = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      await makeExecutions(api, 1);
    } finally {
      api.close();
    }
    before = await data();
  });
  afterAll(async () => {
    await home?.run(["tenant", "delete", T, "--purge", "--no-final-backup", "--yes"]);
    if (vm) await scrubTenant(vm, T);
    home?.cleanup();
  });

  it("key rotate, then restore of a backup taken before the rotation: same workflows, credentials decrypt", async () => {
    const b = await runLong(home, ["backup", "tenant", T, "--json"]);
    expect(b.code, b.stderr).toBe(0);
    const rot = await runLong(home, ["key", "rotate", "--yes", "--json"]);
    expect(rot.code, rot.stderr).toBe(0);
    const r = await runLong(home, ["restore", T, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await data()).toEqual(before);
  });

  it("secrets rotate on the live tenant: new Postgres/Redis passwords and API key, the old ones refused, data and executions kept", async () => {
    const old = await tenantSecrets(home, T);
    const r = await runLong(home, ["tenant", "secrets", "rotate", T, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rotated: [T] });
    const now = await tenantSecrets(home, T);
    for (const k of ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_API_KEY"]) expect(now.get(k), k).not.toBe(old.get(k));
    for (const k of ["N8N_ENCRYPTION_KEY", "N8N_OWNER_PASSWORD"]) expect(now.get(k), k).toBe(old.get(k));
    expect([...now.keys()].filter((k) => k.endsWith("_NEXT"))).toEqual([]);
    for (const k of ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_API_KEY"]) expect(r.stdout + r.stderr).not.toContain(now.get(k)!);

    expect((await psqlWith(now.get("POSTGRES_PASSWORD")!)).stdout.trim()).toBe("1");
    expect((await psqlWith(old.get("POSTGRES_PASSWORD")!)).code).not.toBe(0);
    const env = await onVm(vm, ["cat", `/opt/btw/tenants/${T}/.env`]);
    expect(env.stdout).toContain(`POSTGRES_PASSWORD=${now.get("POSTGRES_PASSWORD")}`);

    expect(await data()).toEqual(before);
    const api = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      // an execution after the rotation
      await makeExecutions(api, 1);
    } finally {
      api.close();
    }
    const after = await data();
    expect(after.executions.length).toBe(before.executions.length + 1);

    const show = JSON.parse((await runLong(home, ["tenant", "show", T, "--json"])).stdout) as { secretAges: Array<{ name: string; ageDays: number }> };
    expect(show.secretAges.find((s) => s.name === "POSTGRES_PASSWORD")).toMatchObject({ ageDays: 0 });
  });

  it("restore in place of the backup from before the rotation: the backup's data, the current passwords, the Postgres credential re-pointed", async () => {
    const current = await tenantSecrets(home, T);
    const r = await runLong(home, ["restore", T, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Postgres credential re-pointed at the current database password/);
    expect(await data()).toEqual(before);
    expect((await psqlWith(current.get("POSTGRES_PASSWORD")!)).stdout.trim()).toBe("1");
    expect((await tenantSecrets(home, T)).get("POSTGRES_PASSWORD")).toBe(current.get("POSTGRES_PASSWORD"));
  });

  it("--due picks tenants whose secrets are secrets.rotationDays old", async () => {
    const none = await runLong(home, ["tenant", "secrets", "rotate", "--due", "--dry-run", "--json"]);
    expect(JSON.parse(none.stdout)).toMatchObject({ tenants: [] });
    await stateSql(home, `update tenant_secrets set value_set_at = now() - interval '100 days' where name = 'N8N_API_KEY'`);
    const due = await runLong(home, ["tenant", "secrets", "rotate", "--due", "--dry-run", "--json"]);
    expect(JSON.parse(due.stdout)).toMatchObject({ tenants: [T], rotationDays: 90 });
    const bad = await runLong(home, ["tenant", "secrets", "rotate", T, "--due"]);
    expect(bad.code).toBe(2);
  });
});
