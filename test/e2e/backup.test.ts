import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BtwHome } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { credentialData, makeExecutions, snapshot, tenantApi, scrubTenant } from "../integration/backup/tenant-api.js";

// Time: ~7–11 min (688 s in two lanes beside unit and integration): a real round trip through
// backup, purge and restore, restore in place and --as on the other server, verify into a
// scratch stack, and two killed backups of a 192 MB tenant (the kill must land mid-upload).
//
// Backups on real servers: a tenant with workflows, credentials and executions survives
// backup → delete --purge → restore unchanged; restore --as; a damaged backup is refused by
// verify and restore; verify restores into a scratch stack; a killed backup leaves nothing.
describe("backup and restore on the lab", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm1: LabServer;
  let vm2: LabServer;
  const T = "bk-rt";
  const AS = "bk-rt-copy";
  let before: Awaited<ReturnType<typeof snapshot>>;
  let goodId: string;
  let extraCredential: string;
  const btw = (args: string[], env: Record<string, string> = {}) => home.run(args, { env });
  const json = <T>(s: string) => JSON.parse(s) as T;

  beforeAll(async () => {
    lab = labInfo();
    [vm1, vm2] = [lab.servers[0]!, lab.servers[1]!];
    for (const s of lab.allServers) for (const t of [T, AS]) await scrubTenant(s, t);
    home = await labHome(lab);
    // a pool of its own: the lab VMs are shared with other test runs, each allocating from the bottom of its pool
    appendFileSync(join(home.dir, "btw.yml"), "placement:\n  subnetPool: 10.231.0.0/16\n");
    const r = await btw(["tenant", "create", T, "--plan", "starter", "--server", vm1.name]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await Promise.all([T, AS].map((t) => home?.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"]))); // at once: each takes its own tenant lock
    home?.cleanup();
  });

  it("backs up a tenant with workflows, a credential and executions", async () => {
    const api = await tenantApi(home, vm1, T, LAB_DOMAIN);
    try {
      const c = await api.api<{ id: string }>("POST", "/api/v1/credentials", { name: "backup test header", type: "httpHeaderAuth", data: { name: "X-Backup-Test", value: "s3cret-value-1234" } });
      expect(c.status, JSON.stringify(c.json)).toBe(200);
      extraCredential = c.json.id;
      await makeExecutions(api, 3);
      before = await snapshot(api);
    } finally {
      api.close();
    }
    expect(before.workflows.length).toBeGreaterThanOrEqual(4);
    expect(before.credentials.map((c) => c.id)).toContain(extraCredential);
    expect(before.executions.length).toBeGreaterThanOrEqual(3);

    const r = await btw(["backup", "tenant", T, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const b = json<{ backup: { id: string; location: string; sizeBytes: number; counts: Record<string, number> } }>(r.stdout).backup;
    goodId = b.id;
    expect(b.counts).toEqual({ workflows: before.workflows.length, credentials: before.credentials.length, executions: before.executions.length });
    expect(statSync(b.location).size).toBe(b.sizeBytes);
    // encrypted: the credential's secret and the workflow names are not in the file
    const bytes = readFileSync(b.location);
    expect(bytes.includes(Buffer.from("s3cret-value-1234"))).toBe(false);
    expect(bytes.includes(Buffer.from("backup test: counter"))).toBe(false);
    // no dump file left on the server
    const leftovers = await onVm(vm1, ["sh", "-c", "find / -xdev \\( -name '*.dump' -o -name '*.btwb' \\) -newer /etc/hostname 2>/dev/null | head -5"]);
    expect(leftovers.stdout.trim()).toBe("");
    const list = json<{ backups: Array<{ id: string; status: string; manifest: { escrow: { names: string[]; sealed?: string } } }> }>((await btw(["backup", "list", "--tenant", T, "--json"])).stdout);
    expect(list.backups[0]).toMatchObject({ id: goodId, status: "done" });
    expect(list.backups[0]!.manifest.escrow.names).toContain("N8N_ENCRYPTION_KEY");
    expect(list.backups[0]!.manifest.escrow.sealed).toBeUndefined();
  });

  it("the manifest records how each part was taken: the dump's snapshot, n8n's files archived live after it, Redis not included (issue 22 item 16)", async () => {
    const r = await btw(["backup", "show", goodId, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    type Consistency = {
      database: { method: string; snapshotAt: string; finishedAt: string; n8nRunning: boolean };
      n8nData: { method: string; startedAt: string; finishedAt: string; binaryData: string };
      redis: { included: boolean; executionsMode: string };
      mayMiss: string[];
    };
    const out = json<{ backup: { manifest: { consistency: Consistency } }; consistency: string[] }>(r.stdout);
    const c = out.backup.manifest.consistency;
    expect(c).toMatchObject({
      database: { method: "pg_dump", n8nRunning: true },
      n8nData: { method: "archived live after the dump", binaryData: "filesystem" },
      redis: { included: false, executionsMode: "regular" },
    });
    const times = [c.database.snapshotAt, c.database.finishedAt, c.n8nData.startedAt, c.n8nData.finishedAt].map((t) => Date.parse(t));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(c.mayMiss.length).toBeGreaterThan(0);
    expect(out.consistency).toContain("redis: not included (regular mode: n8n keeps nothing in Redis)");
    const human = await btw(["backup", "show", goodId]);
    expect(human.stdout).toMatch(/how it was taken:\n {4}postgres\.dump: pg_dump, one snapshot at /);
  });

  it("verify restores it into a scratch stack, checks it and removes the stack", async () => {
    const r = await btw(["backup", "verify", "--backup", goodId, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = json<{ ok: boolean; results: Array<{ checks: Array<{ check: string; ok: boolean }> }> }>(r.stdout);
    expect(out.ok).toBe(true);
    expect(out.results[0]!.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(["integrity", "pg_restore", "n8n ready with the escrowed key", "row counts match the manifest", "credentials decrypt"]),
    );
    // what the checks cannot see is said beside them (issue 22 item 16)
    expect((out.results[0] as { consistency?: string[] }).consistency).toContainEqual(expect.stringMatching(/^n8n-data\.tar: archived live after the dump/));
    expect(r.stderr).toMatch(/ {4}redis: not included \(regular mode/);
    const list = json<{ backups: Array<{ id: string; verifiedAt: string | null }> }>((await btw(["backup", "list", "--tenant", T, "--json"])).stdout);
    expect(list.backups.find((b) => b.id === goodId)!.verifiedAt).not.toBeNull();
    const scratch = await onVm(vm1, ["sh", "-c", "docker ps -a --format '{{.Names}}' | grep vfy- ; docker volume ls -q | grep vfy- ; ls /opt/btw/tenants | grep vfy- ; true"]);
    expect(scratch.stdout.trim()).toBe("");
  });

  it("a flipped byte: verify and restore refuse it clearly, the tenant is untouched", async () => {
    const r = await btw(["backup", "tenant", T, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const bad = json<{ backup: { id: string; location: string } }>(r.stdout).backup;
    const bytes = readFileSync(bad.location);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x20;
    writeFileSync(bad.location, bytes);

    const v = await btw(["backup", "verify", "--backup", bad.id]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/failed authentication: the backup is damaged or was tampered with/);
    const started = (await onVm(vm1, ["docker", "inspect", "--format", "{{.State.StartedAt}}", `btw-${T}-n8n`])).stdout.trim();
    const x = await btw(["restore", T, "--backup", bad.id, "--yes"]);
    expect(x.code).toBe(1);
    expect(x.stderr).toMatch(/error: .*failed authentication/);
    expect(x.stderr).toMatch(/hint: this backup cannot be trusted/);
    expect((await onVm(vm1, ["docker", "inspect", "--format", "{{.State.StartedAt}}", `btw-${T}-n8n`])).stdout.trim()).toBe(started);
    expect(json<{ tenant: { status: string } }>((await btw(["tenant", "show", T, "--json"])).stdout).tenant.status).toBe("active");
  });

  it("round trip: delete --purge, restore → same workflows, executions; credentials decrypt", async () => {
    expect((await btw(["tenant", "delete", T, "--purge", "--yes"])).code).toBe(0);
    expect((await onVm(vm1, ["docker", "volume", "ls", "-q", "--filter", `label=btw.tenant=${T}`])).stdout.trim()).toBe("");
    const r = await btw(["restore", T, "--backup", goodId, "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = json<{ restore: { mismatches: string[]; server: string } }>(r.stdout).restore;
    expect(out.mismatches).toEqual([]);
    expect(out.server).toBe(vm1.name);
    const api = await tenantApi(home, vm1, T, LAB_DOMAIN);
    try {
      expect(await snapshot(api)).toEqual(before);
      const cred = await credentialData(api, extraCredential);
      expect(cred.status).toBe(200);
      expect(cred.data).toMatchObject({ name: "X-Backup-Test" });
    } finally {
      api.close();
    }
  });

  it("restore in place (live tenant, --yes) puts the backup's data back over newer changes", async () => {
    const api = await tenantApi(home, vm1, T, LAB_DOMAIN);
    try {
      const extra = await api.api<{ id: string }>("POST", "/api/v1/workflows", { name: "made after the backup", nodes: [], connections: {}, settings: {} });
      expect(extra.status).toBe(200);
    } finally {
      api.close();
    }
    const refused = await btw(["restore", T, "--backup", goodId]);
    expect(refused.code).toBe(2); // no TTY, no --yes: nothing happens
    const r = await btw(["restore", T, "--backup", goodId, "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ restore: { mode: "in-place", mismatches: [] } });
    // the backup was taken with n8n running, so its files held n8n's crash marker; left in,
    // the restored n8n would sleep 10 s ("Last session crashed") before it starts
    const logs = await onVm(vm1, ["docker", "logs", `btw-${T}-n8n`]);
    expect(`${logs.stdout}${logs.stderr}`).toContain("n8n ready on");
    expect(`${logs.stdout}${logs.stderr}`).not.toContain("Last session crashed");
    const again = await tenantApi(home, vm1, T, LAB_DOMAIN);
    try {
      expect(await snapshot(again)).toEqual(before);
    } finally {
      again.close();
    }
  });

  it("restore --as makes a second tenant from the backup, on another server", async () => {
    const r = await btw(["restore", T, "--backup", goodId, "--as", AS, "--server", vm2.name, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const api = await tenantApi(home, vm2, AS, LAB_DOMAIN);
    try {
      const s = await snapshot(api);
      expect(s.workflows).toEqual(before.workflows);
      expect(s.executions).toEqual(before.executions);
      expect((await credentialData(api, extraCredential)).data).toMatchObject({ name: "X-Backup-Test" });
    } finally {
      api.close();
    }
    const list = json<{ tenants: Array<{ slug: string; serverName: string; status: string }> }>((await btw(["tenant", "list", "--json"])).stdout);
    expect(list.tenants.find((t) => t.slug === AS)).toMatchObject({ serverName: vm2.name, status: "active" });
  });

  it("backup all: one server stopped → the other's tenants are backed up, exit 3, the report names the failure", async () => {
    const child = execa(process.execPath, [join(import.meta.dirname, "../../bin/btw"), "backup", "all", "--json"], { env: { ...home.env }, extendEnv: false, reject: false, cwd: home.dir });
    await new Promise((r) => setTimeout(r, 300));
    // "stopped": frozen, so its SSH port stops answering (paused briefly: other runs share the VM)
    await execa("docker", ["pause", vm2.name]);
    let r;
    try {
      r = await child;
    } finally {
      await execa("docker", ["unpause", vm2.name]);
    }
    expect(r.exitCode, r.stderr).toBe(3);
    const report = json<{ ok: boolean; failed: number; results: Array<{ ok: boolean; tenant: string; server: string; error?: string }> }>(r.stdout);
    expect(report.results.find((x) => x.tenant === T)).toMatchObject({ ok: true, server: vm1.name });
    expect(report.results.find((x) => x.tenant === AS)).toMatchObject({ ok: false, server: vm2.name });
    expect(r.stderr).toMatch(new RegExp(`error: 1 of 2 tenant\\(s\\) not backed up: 1 failed \\(${AS}\\)`));
  });

  it("a second overlapping `backup all` exits 75", async () => {
    // the first run, as far as the state can tell: a session holding the bulk lock
    const { openDb } = await import("../../src/state/db.js");
    const { BULK_BACKUP_LOCK } = await import("../../src/ops/backup/all.js");
    const db = await openDb({ dataDir: join(home.dir, "state"), command: "backup all (test's first run)" });
    try {
      const lock = await db.tryLock(BULK_BACKUP_LOCK);
      expect(lock).not.toBeNull();
      const second = await btw(["backup", "all"]);
      expect(second.code, second.stderr).toBe(75);
      expect(second.stderr).toMatch(/another `btw backup all` is running/);
      await lock!.release();
    } finally {
      await db.close();
    }
  });

  it("killed mid-upload: no successful record; the next run removes the partial object (and retention prunes a same-day backup)", async () => {
    // two completed backups of today: prune keeps the newer, deletes the older
    const taken: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = await btw(["backup", "tenant", T, "--json"]);
      expect(b.code, b.stderr).toBe(0);
      taken.push(json<{ backup: { id: string } }>(b.stdout).backup.id);
    }
    const [older, newer] = taken as [string, string];
    // make the database big enough to take seconds (incompressible rows)
    const pad = await onVm(vm1, [
      "docker", "exec", `btw-${T}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-q", "-c",
      "create table backup_pad as select i, decode(string_agg(md5(random()::text || i || j), ''), 'hex') as b from generate_series(1, 150000) i, generate_series(1, 80) j group by i",
    ], undefined, 300_000); // ~192 MB of md5 rows: minutes on a loaded machine (120 s was too short once)
    expect(pad.code, pad.stderr).toBe(0);
    const dir = join(home.dir, "backups", T);
    const child = execa(process.execPath, [join(import.meta.dirname, "../../bin/btw"), "backup", "tenant", T], { env: { ...home.env }, extendEnv: false, reject: false, cwd: home.dir });
    const partial = () => readdirSync(dir).find((f) => f.endsWith(".partial"));
    for (let i = 0; i < 200 && !(partial() && statSync(join(dir, partial()!)).size > 1024 * 1024); i++) await new Promise((r) => setTimeout(r, 100));
    expect(partial(), "the upload should be under way").toBeDefined();
    child.kill("SIGKILL");
    await child;
    const rows = json<{ backups: Array<{ id: string; status: string }> }>((await btw(["backup", "list", "--tenant", T, "--json"])).stdout).backups;
    const killed = rows[0]!;
    expect(killed.status).toBe("running"); // never "done"
    expect(partial()).toBeDefined();
    // the next backup run cleans up what the dead one left; and retention (the newest of a
    // day is kept, with the newest verified) deletes the older of the two taken first, file and all
    const next = await btw(["backup", "prune", "--json"]);
    expect(next.code, next.stderr).toBe(0);
    expect(partial()).toBeUndefined();
    const pruned = json<{ removed: string[]; failed: unknown[] }>(next.stdout);
    expect(pruned.failed).toEqual([]);
    expect(pruned.removed).toContain(older);
    expect(pruned.removed).not.toContain(newer);
    expect(readdirSync(dir).some((f) => f.startsWith(older)), "the pruned backup's file is deleted").toBe(false);
    expect(readdirSync(dir).some((f) => f.startsWith(newer))).toBe(true);
    const listed = json<{ backups: Array<{ id: string; status: string }> }>((await btw(["backup", "list", "--tenant", T, "--all", "--json"])).stdout).backups;
    expect(listed.find((b) => b.id === older)?.status, "kept as history").toBe("deleted");
    expect(readdirSync(dir).some((f) => f.startsWith(killed.id))).toBe(false);
    const after = json<{ backups: Array<{ id: string; status: string; error: string }> }>((await btw(["backup", "list", "--tenant", T, "--json"])).stdout).backups;
    expect(after.find((b) => b.id === killed.id)).toMatchObject({ status: "failed" });

    // SIGTERM: the backup aborts its own upload at once
    const term = execa(process.execPath, [join(import.meta.dirname, "../../bin/btw"), "backup", "tenant", T], { env: { ...home.env }, extendEnv: false, reject: false, cwd: home.dir });
    for (let i = 0; i < 200 && !(partial() && statSync(join(dir, partial()!)).size > 1024 * 1024); i++) await new Promise((r) => setTimeout(r, 100));
    term.kill("SIGTERM");
    const t = await term;
    expect(t.exitCode).toBe(1);
    expect(t.stderr).toMatch(/interrupted; nothing was kept/);
    expect(partial()).toBeUndefined();
    const last = json<{ backups: Array<{ status: string; error: string }> }>((await btw(["backup", "list", "--tenant", T, "--json"])).stdout).backups[0]!;
    expect(last).toMatchObject({ status: "failed", error: "interrupted" });
    await onVm(vm1, ["docker", "exec", `btw-${T}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-q", "-c", "drop table backup_pad"]);
  });
});
