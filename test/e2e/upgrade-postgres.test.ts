import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { killDuring, runLong, stateSql, type BtwHome } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, viaProxy, type LabInfo, type LabServer } from "../support/lab-home.js";
import { LAB_IMAGES_TIMEOUT_MS, ensureLabImages, labInfo, type LaneLab } from "./support/lab.js";
import { onceN8nAnswers } from "./support/n8n-answers.js";
import { credentialData, makeExecutions, scrubTenant, snapshot, tenantApi } from "../integration/backup/tenant-api.js";

// Time: ~3–8 min (486 s in two lanes beside unit and integration; before the --rollback of a killed
// upgrade and its second kill were added, ~1 min more): a tenant on Postgres 15, a dump and restore
// into 17 killed and rolled back, killed again and resumed, and a broken major rolled back after
// its deadline.
//
// A Postgres major upgrade of one tenant on the lab (issue 11): created on the lab's older
// major (lab.postgresPrevious, Debian bookworm's 15), with workflows, credentials and
// executions; `upgrade postgres --to <17>` killed (-9) while it restores into the new volume,
// first undone with `--rollback` (back on 15, the data intact), then killed again and finished by
// the same command: the data intact, the old volume kept, the state says 17.
// `--cleanup` is refused without --yes and removes the old volume with it. An image of a
// newer major that never starts is rolled back: the old image on its untouched volume, exit 3.

const T = "pgup";
type Snap = Awaited<ReturnType<typeof snapshot>>;

describe("Postgres major upgrade (lab)", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm: LabServer;
  let before: Snap;

  const dataOf = (): Promise<Snap> =>
    onceN8nAnswers(async () => {
      const api = await tenantApi(home, vm, T, LAB_DOMAIN);
      try {
        const snap = await snapshot(api);
        for (const c of snap.credentials) expect((await credentialData(api, c.id)).status, `credential ${c.name} decrypts`).toBe(200);
        return snap;
      } finally {
        api.close();
      }
    });
  const volumes = async () => (await onVm(vm, ["docker", "volume", "ls", "--format", "{{.Name}}", "--filter", `label=btw.tenant=${T}`])).stdout.split("\n").filter((v) => v.includes("pgdata")).sort();
  const row = async () => ((await stateSql(home, "select postgres_image, pgdata_volume from tenants where slug = $1 and status <> 'deleted'", [T])) as Array<{ postgres_image: string; pgdata_volume: string }>)[0]!;
  const serverMajor = async () => (await onVm(vm, ["docker", "exec", `btw-${T}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-XAtc", "show server_version_num"])).stdout.trim().slice(0, 2);

  // the older Postgres, built on first use (`up` leaves it out: a bookworm debootstrap) and pulled into this file's server
  beforeAll(async () => {
    await ensureLabImages(["postgresPrevious"], labInfo().servers.slice(0, 1));
  }, LAB_IMAGES_TIMEOUT_MS);

  beforeAll(async () => {
    lab = labInfo();
    vm = lab.servers[0]!;
    await scrubTenant(vm, T);
    home = await labHome(lab, { servers: [vm.name] });
    const file = join(home.dir, "btw.yml");
    const c = parse(readFileSync(file, "utf8")) as Record<string, Record<string, unknown>>;
    c.images = { ...c.images, postgres: lab.postgresPrevious.image }; // the tenant is made on 15
    c.placement = { ...c.placement, subnetPool: "10.241.0.0/16" };
    writeFileSync(file, stringify(c));
    const r = await runLong(home, ["tenant", "create", T, "--plan", "starter", "--server", vm.name]);
    expect(r.code, r.stderr).toBe(0);
    const api = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      await makeExecutions(api, 2);
    } finally {
      api.close();
    }
    before = await dataOf();
    // images.postgres back to the lab's 17: the default target, and nobody moved by it
    c.images = { ...c.images, postgres: lab.images.postgres };
    writeFileSync(file, stringify(c));
  });
  afterAll(async () => {
    await home?.run(["tenant", "delete", T, "--purge", "--no-final-backup", "--yes"]);
    await scrubTenant(vm, T);
    home?.cleanup();
  });

  it("killed -9 while restoring into the new volume: --rollback returns to 15 with the data; killed there again, the same command finishes: data intact, old volume kept, the state says 17", async () => {
    expect(await serverMajor()).toBe(lab.postgresPrevious.major);
    expect(before.workflows.length).toBeGreaterThan(0);
    expect(before.credentials.length).toBeGreaterThan(0);
    expect(before.executions.length).toBeGreaterThanOrEqual(2);
    const target = lab.images.postgres;
    const args = ["upgrade", "postgres", "--tenant", T, "--to", "17"];

    const dry = await runLong(home, [...args, "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ target, plans: [{ slug: T, plan: { fromVolume: `btw-${T}-pgdata`, toVolume: `btw-${T}-pgdata-pg17` } }] });
    const bad = await runLong(home, ["upgrade", "postgres", "--tenant", T, "--to", "14"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot go back/);

    await killDuring(home, args, "on a new volume");
    expect((await row()).postgres_image).toBe(lab.postgresPrevious.image); // not recorded yet

    // --rollback undoes the interrupted upgrade (issue 22, Also: never run before): the old
    // major on its old, untouched volume, the new volume gone, the data intact, serving again
    const rb = await runLong(home, ["upgrade", "postgres", "--tenant", T, "--rollback", "--json"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(JSON.parse(rb.stdout).results).toEqual([expect.objectContaining({ tenant: T, ok: true, outcome: "rolled-back", from: lab.postgresPrevious.image })]);
    expect(await serverMajor()).toBe(lab.postgresPrevious.major);
    expect(await row()).toEqual({ postgres_image: lab.postgresPrevious.image, pgdata_volume: `btw-${T}-pgdata` });
    expect((await onVm(vm, ["grep", "^PGDATA_VOLUME=", `/opt/btw/tenants/${T}/.env`])).stdout.trim()).toBe(`PGDATA_VOLUME=btw-${T}-pgdata`);
    expect(await volumes()).toEqual([`btw-${T}-pgdata`]);
    expect(await dataOf()).toEqual(before);
    expect(JSON.parse((await runLong(home, ["tenant", "show", T, "--json"])).stdout)).toMatchObject({ tenant: { status: "active" } });
    expect((await viaProxy(vm, `${T}.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
    // nothing left to undo
    const none = await runLong(home, ["upgrade", "postgres", "--tenant", T, "--rollback", "--json"]);
    expect(none.code, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout).results).toEqual([expect.objectContaining({ tenant: T, outcome: "unchanged" })]);

    // killed again at the same step: this time the same command finishes it
    const t0 = Date.now();
    await killDuring(home, args, "on a new volume");
    expect((await row()).postgres_image).toBe(lab.postgresPrevious.image);
    const r = await runLong(home, [...args, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { results: Array<{ outcome: string; seconds: number; timings: Record<string, number> }> };
    expect(report.results[0]).toMatchObject({ outcome: "upgraded" });
    console.log(`upgrade postgres 15 → 17 of ${T}: ${((Date.now() - t0) / 1000).toFixed(1)} s with the kill; resumed run ${report.results[0]!.seconds.toFixed(1)} s ${JSON.stringify(report.results[0]!.timings)}`);

    expect(await serverMajor()).toBe("17");
    expect(await row()).toEqual({ postgres_image: target, pgdata_volume: `btw-${T}-pgdata-pg17` });
    expect((await onVm(vm, ["grep", "^PGDATA_VOLUME=", `/opt/btw/tenants/${T}/.env`])).stdout.trim()).toBe(`PGDATA_VOLUME=btw-${T}-pgdata-pg17`);
    expect(await volumes()).toEqual([`btw-${T}-pgdata`, `btw-${T}-pgdata-pg17`]);
    expect(await dataOf()).toEqual(before);
    const st = await runLong(home, ["tenant", "status", T, "--json"]);
    expect(JSON.parse(st.stdout)).toMatchObject({ healthy: true, n8nReady: true });
    expect((await viaProxy(vm, `${T}.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);

    const again = await runLong(home, [...args, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).results).toEqual([]); // already there: nothing to do
  });

  it("--cleanup is refused without --yes, and removes the old volume (never the one in use) with it", async () => {
    const no = await runLong(home, ["upgrade", "postgres", "--cleanup", "--tenant", T]);
    expect(no.code).toBe(2);
    expect(await volumes()).toEqual([`btw-${T}-pgdata`, `btw-${T}-pgdata-pg17`]);
    const yes = await runLong(home, ["upgrade", "postgres", "--cleanup", "--tenant", T, "--yes", "--json"]);
    expect(yes.code, yes.stderr).toBe(0);
    expect(JSON.parse(yes.stdout)).toMatchObject({ inUse: `btw-${T}-pgdata-pg17`, removed: [`btw-${T}-pgdata`] });
    expect(await volumes()).toEqual([`btw-${T}-pgdata-pg17`]);
    expect(await dataOf()).toEqual(before);
    // a set-plan rewrites the .env: it keeps the recorded volume
    expect((await runLong(home, ["tenant", "set-plan", T, "pro"])).code).toBe(0);
    expect((await onVm(vm, ["grep", "^PGDATA_VOLUME=", `/opt/btw/tenants/${T}/.env`])).stdout.trim()).toBe(`PGDATA_VOLUME=btw-${T}-pgdata-pg17`);
    expect(await serverMajor()).toBe("17");
  });

  it("a new major that never starts: rolled back to the old image on its untouched volume, exit 3, data intact", async () => {
    // a "postgres 18" that is the lab's Redis: its container exits at once
    const broken = `${lab.images.postgres.replace(/:[^:/]+$/, "")}:18-broken`;
    const pushSide = (img: string) => img.replace(lab.registry, "127.0.0.1:5000");
    await execa("docker", ["pull", pushSide(lab.images.redis)]);
    await execa("docker", ["tag", pushSide(lab.images.redis), pushSide(broken)]);
    await execa("docker", ["push", pushSide(broken)]);
    const r = await runLong(home, ["upgrade", "postgres", "--tenant", T, "--to", broken, "--ready-timeout", "30", "--json"]);
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout) as { results: Array<{ outcome: string; error: string; seconds: number }> };
    expect(report.results[0]).toMatchObject({ outcome: "rolled-back" });
    console.log(`rolled back in ${report.results[0]!.seconds.toFixed(1)} s: ${report.results[0]!.error}`);
    expect(await row()).toEqual({ postgres_image: lab.images.postgres, pgdata_volume: `btw-${T}-pgdata-pg17` });
    expect(await serverMajor()).toBe("17");
    expect(await volumes()).toEqual([`btw-${T}-pgdata-pg17`]); // the new one went
    expect(await dataOf()).toEqual(before);
    const st = await runLong(home, ["tenant", "show", T, "--json"]);
    expect(JSON.parse(st.stdout)).toMatchObject({ tenant: { status: "active" } });
    expect((await viaProxy(vm, `${T}.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
  });
});
