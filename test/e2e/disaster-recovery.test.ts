import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { type BtwHome, runLong } from "../support/cli.js";
import { LAB_DOMAIN, labHome, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { startFakeS3, type FakeS3 } from "../integration/backup/fake-s3.js";
import { credentialData, makeExecutions, scrubTenant, snapshot, tenantApi } from "../integration/backup/tenant-api.js";

// The disaster-recovery drill (issue 13): a tenant with data, its backups and the state's in
// S3 (s3rver on loopback); $BTW_HOME is lost except the recovery file; on the same machine, as
// a new operator would: init, key import, state restore, restore the tenant → the backup's
// workflows and executions, credentials decrypt.

const T = "dr-a";
const PASS = "a passphrase for the drill";

describe("disaster recovery drill (lab, S3)", () => {
  let lab: LaneLab;
  let vm: LabServer;
  let home: BtwHome;
  let s3: FakeS3;
  let env: Record<string, string>;
  let fragment: string;
  type Snap = Awaited<ReturnType<typeof snapshot>>;
  let backedUp: Snap;

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

  beforeAll(async () => {
    lab = labInfo();
    vm = lab.servers[0]!;
    s3 = await startFakeS3();
    env = { BTW_S3_ACCESS_KEY_ID: s3.accessKeyId, BTW_S3_SECRET_ACCESS_KEY: s3.secretAccessKey };
    await scrubTenant(vm, T);
    home = await labHome(lab, { servers: [vm.name] });
    // what the operator keeps beside the recovery file: the settings (storage, pool), no secret
    const settings = parse(readFileSync(lab.config, "utf8")) as Record<string, unknown>;
    settings.placement = { ...(settings.placement as object), subnetPool: "10.244.0.0/16" };
    settings.backup = { storage: { type: "s3", endpoint: s3.endpoint, region: "us-east-1", bucket: s3.bucket, prefix: "btw/" } };
    fragment = `${home.dir}.settings.yml`;
    writeFileSync(fragment, stringify(settings));
    const c = parse(readFileSync(join(home.dir, "btw.yml"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(home.dir, "btw.yml"), stringify({ ...c, placement: settings.placement, backup: settings.backup }));
    const r = await runLong(home, ["tenant", "create", T, "--plan", "starter", "--server", vm.name], { env });
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await home?.run(["tenant", "delete", T, "--purge", "--no-final-backup", "--yes"], { env });
    if (vm) await scrubTenant(vm, T);
    home?.cleanup();
    rmSync(fragment, { force: true });
    await s3?.close();
  });

  it("backup all (tenant + state) to S3, $BTW_HOME lost but the recovery file; init, key import, state restore, restore → the backup's data", async () => {
    const api = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      await makeExecutions(api, 2);
    } finally {
      api.close();
    }
    backedUp = await data();
    const all = await runLong(home, ["backup", "all", "--json"], { env });
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout)).toMatchObject({ succeeded: 1, stateBackup: { ok: true } });
    const exp = await runLong(home, ["key", "export", "--recovery", "--out", join(home.dir, "key.recovery")], { env, input: `${PASS}\n` });
    expect(exp.code, exp.stderr).toBe(0);
    // after the backup the tenant moves on: the restore must bring back the backup's data
    const api2 = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      await makeExecutions(api2, 1);
    } finally {
      api2.close();
    }

    // the machine is lost: only the recovery file stays
    await runLong(home, ["db", "stop", "--force"], { env });
    for (const f of readdirSync(home.dir)) if (f !== "key.recovery") rmSync(join(home.dir, f), { recursive: true, force: true });

    const init = await runLong(home, ["init", "--domain", LAB_DOMAIN, "--tls", "off", "--timezone", "Europe/Paris", "--merge", fragment], { env });
    expect(init.code, init.stderr).toBe(0);
    const imp = await runLong(home, ["key", "import", "key.recovery", "--yes"], { env, input: `${PASS}\n` });
    expect(imp.code, imp.stderr).toBe(0);
    const st = await runLong(home, ["state", "restore", "--yes", "--json"], { env });
    expect(st.code, st.stderr).toBe(0);
    const list = await runLong(home, ["backup", "list", "--tenant", T, "--json"], { env });
    expect((JSON.parse(list.stdout) as { backups: unknown[] }).backups.length).toBeGreaterThanOrEqual(1);
    const check = await runLong(home, ["server", "check", vm.name], { env });
    expect(check.code, check.stderr).toBe(0);

    const r = await runLong(home, ["restore", T, "--yes", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await data()).toEqual(backedUp);
  });
});
