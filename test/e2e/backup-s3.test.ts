import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BtwHome } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { startFakeS3, type FakeS3 } from "../integration/backup/fake-s3.js";
import { credentialData, makeExecutions, snapshot, tenantApi, scrubTenant } from "../integration/backup/tenant-api.js";

// The same round trip with S3 storage: a local S3-compatible server (s3rver) on loopback,
// multipart uploads from btw; an interrupted upload leaves no object and no parts.
describe("backups in S3 (s3rver on loopback)", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm: LabServer;
  let s3: FakeS3;
  const T = "bk-s3";
  let before: Awaited<ReturnType<typeof snapshot>>;
  let env: Record<string, string>;
  const btw = (args: string[]) => home.run(args, { env });
  const json = <T>(s: string) => JSON.parse(s) as T;
  const objects = async () => {
    const { S3Client, ListObjectsV2Command } = await import("@aws-sdk/client-s3");
    const c = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const r = await c.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "btw/" }));
    c.destroy();
    return (r.Contents ?? []).map((o) => o.Key!);
  };

  beforeAll(async () => {
    lab = labInfo();
    vm = lab.servers[0]!;
    s3 = await startFakeS3();
    env = { BTW_S3_ACCESS_KEY_ID: s3.accessKeyId, BTW_S3_SECRET_ACCESS_KEY: s3.secretAccessKey };
    for (const s of lab.allServers) for (const t of [T]) await scrubTenant(s, t);
    home = await labHome(lab, { servers: [vm.name] });
    // a pool of its own: the lab VMs are shared with other test runs, each allocating from the bottom of its pool
    appendFileSync(join(home.dir, "btw.yml"), "placement:\n  subnetPool: 10.233.0.0/16\n");
    appendFileSync(
      join(home.dir, "btw.yml"),
      `backup:\n  storage:\n    type: s3\n    endpoint: ${s3.endpoint}\n    region: us-east-1\n    bucket: ${s3.bucket}\n    prefix: btw/\n`,
    );
    const r = await btw(["tenant", "create", T, "--plan", "starter", "--server", vm.name]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await home?.run(["tenant", "delete", T, "--purge", "--no-final-backup", "--yes"], { env });
    home?.cleanup();
    await s3?.close();
  });

  it("round trip through S3: backup, delete --purge, restore → same data, credentials decrypt", async () => {
    const api = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      await makeExecutions(api, 2);
      before = await snapshot(api);
    } finally {
      api.close();
    }
    const b = await btw(["backup", "tenant", T, "--json"]);
    expect(b.code, b.stderr).toBe(0);
    const backup = json<{ backup: { id: string; location: string } }>(b.stdout).backup;
    expect(backup.location).toBe(`s3://${s3.bucket}/btw/${T}/${backup.id}.btwb`);
    expect(await objects()).toEqual([`btw/${T}/${backup.id}.btwb`]);

    // the purge takes a final backup first (through S3 too); the restore takes the newest
    const del = await btw(["tenant", "delete", T, "--purge", "--yes", "--json"]);
    expect(del.code, del.stderr).toBe(0);
    const finalBackup = json<{ finalBackup: string }>(del.stdout).finalBackup;
    expect(finalBackup).not.toBe(backup.id);
    expect(await objects()).toEqual([`btw/${T}/${backup.id}.btwb`, `btw/${T}/${finalBackup}.btwb`].sort());
    const r = await btw(["restore", T, "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ restore: { backup: string; mismatches: string[] } }>(r.stdout).restore).toMatchObject({ backup: finalBackup, mismatches: [] });
    const api2 = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      expect(await snapshot(api2)).toEqual(before);
      for (const c of before.credentials) expect((await credentialData(api2, c.id)).status).toBe(200);
    } finally {
      api2.close();
    }
  });

  it("an upload killed mid-way is never recorded as done and leaves no object or parts", async () => {
    const pad = await onVm(vm, [
      "docker", "exec", `btw-${T}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-q", "-c",
      "create table backup_pad as select i, decode(string_agg(md5(random()::text || i || j), ''), 'hex') as b from generate_series(1, 150000) i, generate_series(1, 80) j group by i",
    ]);
    expect(pad.code, pad.stderr).toBe(0);
    const before = await objects();
    const start = () => execa(process.execPath, [join(import.meta.dirname, "../../bin/btw"), "backup", "tenant", T], { env: { ...home.env, ...env }, extendEnv: false, reject: false, cwd: home.dir });
    const waitForParts = async () => {
      for (let i = 0; i < 300 && (await s3.pendingUploads()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await s3.pendingUploads(), "a multipart upload should be under way").not.toEqual([]);
    };

    // SIGTERM: btw aborts the multipart upload itself
    const term = start();
    await waitForParts();
    term.kill("SIGTERM");
    const t = await term;
    expect(t.exitCode).toBe(1);
    expect(t.stderr).toMatch(/interrupted; nothing was kept/);
    expect(await s3.pendingUploads()).toEqual([]);
    expect(await objects()).toEqual(before);

    // SIGKILL: nothing runs in btw; the next run aborts the upload it left
    const kill = start();
    await waitForParts();
    kill.kill("SIGKILL");
    await kill;
    const rows = json<{ backups: Array<{ id: string; status: string }> }>((await btw(["backup", "list", "--tenant", T, "--json"])).stdout).backups;
    expect(rows[0]!.status).toBe("running");
    expect(await s3.pendingUploads()).not.toEqual([]);
    const next = await btw(["backup", "prune"]);
    expect(next.code, next.stderr).toBe(0);
    expect(await s3.pendingUploads()).toEqual([]);
    expect(await objects()).toEqual(before);
    const after = json<{ backups: Array<{ id: string; status: string }> }>((await btw(["backup", "list", "--tenant", T, "--json"])).stdout).backups;
    expect(after.find((b) => b.id === rows[0]!.id)!.status).toBe("failed");
  });
});
