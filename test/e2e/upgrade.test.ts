import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { N8N_STEP_TITLES, N8N_UPGRADE_PHASES, n8nUpgradeSteps, type N8nStep } from "../../src/core/upgrade/n8n.js";
import { stateSql, type BtwHome, runLong, killDuring, pauseDuring } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, viaProxy, type LabInfo, type LabServer } from "../support/lab-home.js";
import { LAB_IMAGES_TIMEOUT_MS, ensureLabImages, labInfo, type LaneLab } from "./support/lab.js";
import { onceN8nAnswers } from "./support/n8n-answers.js";
import { credentialData, makeExecutions, scrubTenant, snapshot, tenantApi } from "../integration/backup/tenant-api.js";

// Time: ~10–19 min (615 s in two lanes before the kill at every step; 1140 s with it, beside
// three other files and four helpers compiling, 2026-12-06): three tenants on the older n8n (created at once), each
// upgraded for real — one killed at each step and resumed, one `--all` rollout behind a canary
// (watched 5 s), one rolled back from a broken image after its readiness deadline (with a write
// made once it had started); and one tenant's Redis upgraded (a backup and a recreate, ~1 min).
// On a machine where the lab has not built the older n8n yet, this file builds it on first use
// (npm install 487 s + image 115 s on 2 cores, 2026-12-07: the file took 1608 s that time).
//
// n8n upgrades across the fleet on the lab (issue 11): three tenants created on the lab's
// older n8n (lab.n8nPrevious), whose database the current one migrates forward. Versions are
// state (a config change moves nobody), a kill during an upgrade resumes, `upgrade n8n --all
// --wave-size 1` moves everyone with their data, and an image that never becomes ready is
// rolled back automatically and halts the rollout.

const [A, B, C] = ["up-a", "up-b", "up-c"];
type Snap = Awaited<ReturnType<typeof snapshot>>;

describe("n8n upgrades across the fleet (lab)", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm1: LabServer;
  let vm2: LabServer;
  let oldImage: string;
  let newImage: string;
  let broken: string;
  const data = new Map<string, Snap & { published: string[] }>();
  // where each tenant lives: C moves to lab-2 in the first test (a migrate keeps its version)
  const placed = new Map<string, "vm1" | "vm2">([[A, "vm1"], [B, "vm2"], [C, "vm1"]]);
  const serverOf = (slug: string) => (placed.get(slug) === "vm2" ? vm2 : vm1);

  const setN8nImage = (image: string) => {
    const file = join(home.dir, "btw.yml");
    const c = parse(readFileSync(file, "utf8")) as Record<string, Record<string, unknown>>;
    c.images = { ...c.images, n8n: image };
    writeFileSync(file, stringify(c));
  };
  const imageOf = async (slug: string) => ((await stateSql(home, "select n8n_image from tenants where slug = $1 and status <> 'deleted'", [slug])) as Array<{ n8n_image: string }>)[0]!.n8n_image;
  const envImage = async (slug: string) => (await onVm(serverOf(slug), ["grep", "^N8N_IMAGE=", `/opt/btw/tenants/${slug}/.env`])).stdout.trim().replace(/^N8N_IMAGE=/, "");
  const dataOf = (slug: string): Promise<Snap & { published: string[] }> => onceN8nAnswers(() => dataOnce(slug));
  const dataOnce = async (slug: string) => {
    const api = await tenantApi(home, serverOf(slug), slug, LAB_DOMAIN);
    try {
      const snap = await snapshot(api);
      for (const c of snap.credentials) expect((await credentialData(api, c.id)).status, `credential ${c.name} of ${slug} decrypts`).toBe(200);
      const published = await api.api<{ data: Array<{ id: string }> }>("GET", "/api/v1/workflows?active=true&limit=250");
      return { ...snap, published: published.json.data.map((w) => w.id).sort() };
    } finally {
      api.close();
    }
  };

  // the older n8n, built on first use (`up` leaves it out) and pulled into both servers, so
  // the timed creates below do not pay for it
  beforeAll(async () => {
    await ensureLabImages(["n8nPrevious"], labInfo().servers);
  }, LAB_IMAGES_TIMEOUT_MS);

  beforeAll(async () => {
    lab = labInfo();
    [vm1, vm2] = [lab.servers[0]!, lab.servers[1]!];
    oldImage = lab.n8nPrevious.image;
    newImage = lab.images.n8n;
    for (const s of lab.allServers) for (const t of [A, B, C]) await scrubTenant(s, t);
    // an "n8n" image that never becomes ready: the lab's Redis under an n8n tag
    broken = `${newImage.replace(/:[^:/]+$/, "")}:0.0.1-broken`;
    const pushSide = (img: string) => img.replace(lab.registry, "127.0.0.1:5000");
    await execa("docker", ["pull", pushSide(lab.images.redis)]);
    await execa("docker", ["tag", pushSide(lab.images.redis), pushSide(broken)]);
    await execa("docker", ["push", pushSide(broken)]);

    home = await labHome(lab);
    const file = join(home.dir, "btw.yml");
    const c = parse(readFileSync(file, "utf8")) as Record<string, Record<string, unknown>>;
    c.placement = { ...c.placement, subnetPool: "10.240.0.0/16" };
    writeFileSync(file, stringify(c));
    setN8nImage(oldImage); // new tenants get the older n8n
    // all three at once: the state admits several btw processes
    await Promise.all(
      [A, B, C].map(async (slug) => {
        const r = await runLong(home, ["tenant", "create", slug, "--plan", "starter", "--server", serverOf(slug).name]);
        expect(r.code, r.stderr).toBe(0);
        const api = await tenantApi(home, serverOf(slug), slug, LAB_DOMAIN);
        try {
          await makeExecutions(api, 1);
        } finally {
          api.close();
        }
        data.set(slug, await dataOf(slug));
      }),
    );
  });
  afterAll(async () => {
    await Promise.all([A, B, C].map((t) => home?.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"]))); // at once: each takes its own tenant lock
    for (const s of lab?.servers ?? []) for (const t of [A, B, C]) await scrubTenant(s, t);
    home?.cleanup();
  });

  it("versions are state: after images.n8n changes in btw.yml, set-plan, restore and migrate leave a tenant's n8n where it was", async () => {
    expect(await imageOf(A)).toBe(oldImage);
    setN8nImage(newImage);
    const plan = await runLong(home, ["upgrade", "plan", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout) as { target: string; fleet: { n8n: Array<{ version: string; tenants: number }> } };
    expect(p.target).toBe(newImage);
    expect(p.fleet.n8n).toEqual([{ version: lab.n8nPrevious.version, tenants: 3 }]);
    // n8n's own breaking-changes report, read from each tenant to upgrade
    const bc = await runLong(home, ["upgrade", "plan", "--breaking-changes", "--json"]);
    expect(bc.code, bc.stderr).toBe(0);
    const reports = (JSON.parse(bc.stdout) as { breakingChanges: Array<{ tenant: string; findings: unknown[] | null; error: string | null }> }).breakingChanges;
    expect(reports.map((x) => x.tenant).sort()).toEqual([A, B, C]);
    for (const x of reports) expect(x.error, x.tenant).toBeNull();

    expect((await runLong(home, ["tenant", "set-plan", A, "pro"])).code).toBe(0);
    expect(await envImage(A)).toBe(oldImage);
    const b = await runLong(home, ["backup", "tenant", A]);
    expect(b.code, b.stderr).toBe(0);
    const r = await runLong(home, ["restore", A, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await envImage(A)).toBe(oldImage);
    expect(await imageOf(A)).toBe(oldImage);
    expect((await runLong(home, ["tenant", "set-plan", A, "starter"])).code).toBe(0);

    const m = await runLong(home, ["tenant", "migrate", C, "--to", vm2.name, "--json"]);
    expect(m.code, m.stderr).toBe(0);
    placed.set(C, "vm2");
    expect(await envImage(C)).toBe(oldImage);
    expect(await imageOf(C)).toBe(oldImage);
    expect(await dataOf(C)).toEqual(data.get(C));
  });

  it("killed at each step of an upgrade, in the order the flow runs them, the same command resumes it every time and finishes: new version, data intact", async () => {
    const args = ["upgrade", "n8n", "--tenant", C, "--to", newImage, "--ready-timeout", "240"];
    const status = async () => ((await stateSql(home, "select status from tenants where slug = $1 and status <> 'deleted'", [C])) as Array<{ status: string }>)[0]!.status;
    const journal = async () =>
      ((await stateSql(
        home,
        "select o.status, o.details->>'phase' as phase, o.details->>'backup' as backup from operations o join tenants t on t.id = o.tenant_id where t.slug = $1 and t.status <> 'deleted' and o.kind = 'tenant.upgrade' and o.step = 'n8n' order by o.id desc limit 1",
        [C],
      )) as Array<{ status: string; phase: string; backup: string | null }>)[0]!;
    const n8nRunning = async () => (await onVm(serverOf(C), ["docker", "inspect", "--format", "{{.State.Running}}", `btw-${C}-n8n`])).stdout.trim() === "true";
    const phases = N8N_UPGRADE_PHASES.map((p) => p.phase);
    const phaseOf = (s: N8nStep) => N8N_UPGRADE_PHASES.find((p) => p.steps.includes(s))!.phase;
    // every step but the last (recording the version takes milliseconds: a kill cannot aim at it)
    for (const step of n8nUpgradeSteps("prepared").filter((s) => s !== "record")) {
      await killDuring(home, args, `${C}: ${N8N_STEP_TITLES[step]}`);
      const j = await journal();
      expect(j.status, `killed at ${step}`).toBe("running");
      // killed as the step began: the journal says its phase (or the next one, had a short step
      // ended the phase before the kill landed)
      expect(phases.slice(phases.indexOf(phaseOf(step)), phases.indexOf(phaseOf(step)) + 2), `killed at ${step}`).toContain(j.phase);
      if (step === "inspect") expect(await status()).toBe("active"); // the tenant serves until the maintenance page
      if (step === "stop" || step === "backup") expect(await status()).toBe("upgrading");
      if (step === "backup") expect(await n8nRunning(), "n8n is stopped before the backup").toBe(false);
      if (step === "recreate") {
        // the backup a rollback would restore: taken of the quiet tenant, recorded done
        expect(j.phase).toBe("quiesced");
        const b = (await stateSql(home, "select status, reason from backups where id = $1", [j.backup])) as Array<{ status: string; reason: string }>;
        expect(b).toEqual([{ status: "done", reason: "pre-upgrade" }]);
        expect(await status()).toBe("upgrading");
      }
    }
    const r = await runLong(home, [...args, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await imageOf(C)).toBe(newImage);
    expect(await status()).toBe("active");
    expect((await journal()).status).toBe("done");
    expect(await dataOf(C)).toEqual(data.get(C));
  });

  it("upgrade n8n --all --canary 1 --wave-size 1: the canary alone first and watched, then the waves; every tenant on the new version, workflows published, credentials decrypt, executions kept; each server's prepared database for the new n8n made ahead", async () => {
    // the servers' prepared databases and build logs go first (under their lock: a build under
    // way finishes), so one found after the rollout is the upgrade's own
    const PREPARED = "/opt/btw/prepared";
    for (const vm of [vm1, vm2]) {
      const rm = await onVm(vm, ["sh", "-c", 'mkdir -p "$1" && exec 9>"$1/.lock" && flock 9 && rm -rf "$1"/* "$1"/.build-*', "sh", PREPARED], undefined, 900_000);
      expect(rm.code, rm.stderr).toBe(0);
      expect((await onVm(vm, ["ls", PREPARED])).stdout.trim()).toBe("");
    }
    const r = await runLong(home, ["upgrade", "n8n", "--all", "--canary", "1", "--canary-watch", "5", "--wave-size", "1", "--to", newImage, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { results: Array<{ tenant: string; outcome: string; wave: string }> };
    // the canary: the first tenant (one per server); C moved to lab-2 and is already there
    expect(report.results.map((x) => [x.tenant, x.wave, x.outcome])).toEqual([
      [A, "canary", "upgraded"],
      [B, "wave 1", "upgraded"],
      [C, "wave 2", "unchanged"],
    ]);
    // exactly the canary set went first, was watched, and only then did the first wave start
    const at = (line: string) => {
      const i = r.stderr.indexOf(line);
      expect(i, `stderr has "${line}"`).toBeGreaterThanOrEqual(0);
      return i;
    };
    // (C, already on the target, is in wave 2 by the report above; only an upgrade prints its steps)
    const order = [at(`canary: ${A}\n`), at("canary: watching 5 s before the first wave"), at(`wave 1: ${B}\n`)];
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    for (const slug of [A, B, C]) {
      expect(await imageOf(slug)).toBe(newImage);
      expect(await dataOf(slug)).toEqual(data.get(slug));
      // n8n's own migrations ran: its version answers from the new image
      const v = await onVm(serverOf(slug), ["docker", "inspect", "--format", "{{.Config.Image}}", `btw-${slug}-n8n`]);
      expect(v.stdout.trim()).toBe(newImage);
    }
    // each upgraded tenant's last step asked its server for the new n8n's prepared database:
    // being made in the background (its build log) or made already (its directory) — how long
    // the build takes on a loaded machine is not this test's business
    for (const vm of [vm1, vm2]) {
      const listed = (await onVm(vm, ["ls", "-a", PREPARED])).stdout;
      expect(listed, `${vm.name}: the upgrade asked for ${newImage}'s prepared database`).toMatch(/^(\.build-[0-9a-f]{16}\.log|[0-9a-f]{16})$/m);
    }
  });

  // issue 22 (Also): `upgrade redis` had never run to success. The lab builds one Redis: the
  // target is the same image under another tag of the same major (btw moves by image).
  it("upgrade redis moves one tenant to the new Redis image with its data (a key written before it), backed up first, n8n answering; a second run does nothing", async () => {
    const pushSide = (img: string) => img.replace(lab.registry, "127.0.0.1:5000");
    const target = `${lab.images.redis.replace(/:[^:/]+$/, "")}:${lab.images.redis.replace(/^.*:/, "")}-e2e`;
    await execa("docker", ["pull", pushSide(lab.images.redis)]);
    await execa("docker", ["tag", pushSide(lab.images.redis), pushSide(target)]);
    await execa("docker", ["push", pushSide(target)]);
    const redis = (argv: string[]) => onVm(serverOf(B), ["docker", "exec", `btw-${B}-redis`, "redis-cli", ...argv]);
    expect((await redis(["SET", "btw:e2e", "kept"])).stdout.trim()).toBe("OK");
    const redisImage = async () => ((await stateSql(home, "select redis_image from tenants where slug = $1 and status <> 'deleted'", [B])) as Array<{ redis_image: string | null }>)[0]!.redis_image;
    expect(await redisImage()).not.toBe(target);

    const r = await runLong(home, ["upgrade", "redis", "--tenant", B, "--to", target, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { results: Array<{ tenant: string; outcome: string; from: string; to: string; backup: string | null }> };
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ tenant: B, outcome: "upgraded", from: lab.images.redis, to: target });
    const b = (await stateSql(home, "select status, reason from backups where id = $1", [report.results[0]!.backup])) as Array<{ status: string; reason: string }>;
    expect(b).toEqual([{ status: "done", reason: "pre-upgrade" }]);
    expect(await redisImage()).toBe(target);
    expect((await onVm(serverOf(B), ["grep", "^REDIS_IMAGE=", `/opt/btw/tenants/${B}/.env`])).stdout.trim()).toBe(`REDIS_IMAGE=${target}`);
    expect((await onVm(serverOf(B), ["docker", "inspect", "--format", "{{.Config.Image}}", `btw-${B}-redis`])).stdout.trim()).toBe(target);
    expect((await redis(["GET", "btw:e2e"])).stdout.trim(), "the key written before the upgrade").toBe("kept");
    const st = JSON.parse((await runLong(home, ["tenant", "status", B, "--json"])).stdout) as { healthy: boolean; n8nReady: boolean };
    expect(st).toMatchObject({ healthy: true, n8nReady: true });
    expect((await viaProxy(serverOf(B), `${B}.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
    expect(await dataOf(B)).toEqual(data.get(B));

    const again = await runLong(home, ["upgrade", "redis", "--tenant", B, "--to", target, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).results).toEqual([]);
  });

  it("usage collect, twice: the month's executions per tenant, counted once; usage report flags the tenant over its quota", async () => {
    // a starter quota of 1 execution a month: every tenant here is over it
    const file = join(home.dir, "btw.yml");
    const c = parse(readFileSync(file, "utf8")) as Record<string, Record<string, Record<string, unknown>>>;
    c.plans = { ...c.plans, starter: { ...(c.plans?.starter ?? {}), executionsPerMonth: 1 } };
    writeFileSync(file, stringify(c));
    for (let i = 0; i < 2; i++) {
      const r = await runLong(home, ["usage", "collect", "--json"]);
      expect(r.code, r.stderr).toBe(0);
    }
    const rows = (await stateSql(home, "select tenant_slug, metric, value::int as value from usage where metric in ('executions.total', 'executions.success', 'workflows.active') order by 1, 2")) as Array<{ tenant_slug: string; metric: string; value: number }>;
    expect(rows.filter((r) => r.tenant_slug === A)).toHaveLength(3); // not doubled
    for (const slug of [A, B, C]) {
      const api = await tenantApi(home, serverOf(slug), slug, LAB_DOMAIN);
      let executions: number;
      let active: number;
      try {
        executions = (await api.api<{ data: unknown[] }>("GET", "/api/v1/executions?limit=250")).json.data.length;
        active = (await api.api<{ data: unknown[] }>("GET", "/api/v1/workflows?active=true&limit=250")).json.data.length;
      } finally {
        api.close();
      }
      expect(rows.find((r) => r.tenant_slug === slug && r.metric === "executions.total")!.value, `${slug} executions`).toBe(executions);
      expect(rows.find((r) => r.tenant_slug === slug && r.metric === "workflows.active")!.value, `${slug} active workflows`).toBe(active);
    }
    const rep = await runLong(home, ["usage", "report", "--json"]);
    expect(rep.code, rep.stderr).toBe(0);
    const report = JSON.parse(rep.stdout) as { tenants: Array<{ tenant: string; flags: Array<{ metric: string; level: string }> }> };
    expect(report.tenants.find((t) => t.tenant === B)!.flags).toContainEqual(expect.objectContaining({ metric: "executions.total", level: "100%" }));
    const csv = await runLong(home, ["usage", "report", "--csv"]);
    expect(csv.stdout.split("\n")[0]).toBe("period,tenant,plan,metric,value,quota,flag");
  });

  it("an image that never becomes ready on the canary: that tenant is rolled back to its version with its data — a write made once the upgrade had started included — answering through the proxy; the rollout stops at the canary (exit 3)", async () => {
    // paused as the pull starts (the upgrade journaled, the tenant still serving): a write now
    // is what a backup taken before the pull would miss, and the rollback would drop (issue 22)
    const paused = await pauseDuring(home, ["upgrade", "n8n", "--tenant", A, B, "--canary", "1", "--wave-size", "1", "--to", broken, "--ready-timeout", "40", "--json"], `${A}: ${N8N_STEP_TITLES.pull}`);
    let written: Snap & { published: string[] };
    try {
      const api = await tenantApi(home, vm1, A, LAB_DOMAIN);
      try {
        await makeExecutions(api, 1);
      } finally {
        api.close();
      }
      written = await dataOf(A);
      expect(written.executions.length).toBeGreaterThan(data.get(A)!.executions.length);
    } catch (e) {
      paused.kill();
      throw e;
    }
    const r = await paused.resume();
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout) as { halted: boolean; notReached: string[]; results: Array<{ tenant: string; outcome: string; wave: string; timings: Record<string, number> }> };
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ tenant: A, outcome: "rolled-back", wave: "canary" });
    expect(r.stderr, "no wave after a failed canary").not.toContain("wave 1:");
    expect(report.results[0]!.timings.rollback).toBeGreaterThan(0);
    expect(report.halted).toBe(true);
    expect(report.notReached).toEqual([B]);
    expect(await imageOf(A)).toBe(newImage);
    expect(await envImage(A)).toBe(newImage);
    expect(await dataOf(A)).toEqual(written);
    expect((await viaProxy(vm1, `${A}.${LAB_DOMAIN}`, "/healthz")).status).toBe(200);
    expect(await imageOf(B)).toBe(newImage);
  });
});
