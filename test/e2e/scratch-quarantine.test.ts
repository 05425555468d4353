// Time: ~4–9 min (531 s in two lanes beside unit and integration, 2026-12-06): a tenant, a backup,
// a verify killed mid-way and its sweep by the next verify (a scratch stack started and removed
// twice), and the purge with its final backup.
//
// Scratch stacks (backup verify) run a customer's real workflows with real credentials, so
// they are quarantined: no egress (a fake WordPress on the lab network, which a normal
// tenant reaches, is out of reach), no workflow active, labelled; and one left behind by a
// killed verify is reported by doctor and removed by the next verify.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BTW, type BtwHome } from "../support/cli.js";
import { labHome, onVm, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { scrubTenant } from "../integration/backup/tenant-api.js";
import { startFakeWordPress, type FakeWordPress } from "../fakes/wordpress.js";

const T = "qz-src";
/** a scratch stack another machine's verify left 8 h ago (made by hand below, labelled as verify labels its stacks) */
const CRASHED = "vfy-0badc0de";
/** a loaded 2-core machine: a create or verify can take minutes */
const LONG = { timeoutMs: 600_000 };

describe("verify's scratch stacks are quarantined and swept", () => {
  let lab: LaneLab;
  let vm: LabServer;
  let home: BtwHome;
  let wp: FakeWordPress;
  let backupId: string;
  let scratch = "";
  let killedPid = 0;

  /** From inside a container: "HTTP <status>" or "FAIL <reason>" for a GET to the fake WordPress. */
  const fetchFrom = async (container: string): Promise<string> => {
    const probe = `fetch(${JSON.stringify(`${wp.url}/wp-json/wp/v2/users/me`)},{signal:AbortSignal.timeout(8000)}).then((r)=>console.log('HTTP '+r.status),(e)=>console.log('FAIL '+((e.cause&&e.cause.code)||e.name)))`;
    const r = await onVm(vm, ["docker", "exec", container, "node", "-e", probe]);
    return r.stdout.trim() || `FAIL exec ${r.stderr.trim()}`;
  };
  const activeWorkflows = async (slug: string): Promise<number> => {
    const r = await onVm(vm, ["docker", "exec", `btw-${slug}-postgres`, "psql", "-U", "n8n", "-d", "n8n", "-Atc", 'select count(*) from workflow_entity where "activeVersionId" is not null or active']);
    expect(r.code, r.stderr).toBe(0);
    return Number(r.stdout.trim());
  };
  const leftovers = async (slug: string) =>
    (await onVm(vm, ["sh", "-c", 'docker ps -aq --filter "label=btw.tenant=$1"; docker volume ls -q --filter "label=btw.tenant=$1"; docker network ls -q --filter "label=btw.tenant=$1"; ls -d "/opt/btw/tenants/$1" 2>/dev/null; true', "sh", slug])).stdout.trim();

  beforeAll(async () => {
    lab = labInfo();
    vm = lab.servers[0]!;
    await scrubTenant(vm, T);
    home = await labHome(lab, { servers: [vm.name] });
    appendFileSync(join(home.dir, "btw.yml"), "placement:\n  subnetPool: 10.242.0.0/16\n");
    const c = await home.run(["tenant", "create", T, "--plan", "starter", "--server", vm.name], LONG);
    expect(c.code, c.stderr).toBe(0);
    const b = await home.run(["backup", "tenant", T, "--json"], LONG);
    expect(b.code, b.stderr).toBe(0);
    backupId = (JSON.parse(b.stdout) as { backup: { id: string } }).backup.id;
    // where a normal tenant's n8n could reach it: the lab bridge's gateway, the host
    wp = await startFakeWordPress({ host: lab.registry.split(":")[0]!, username: "editor", password: "app-pass-1234" });
  }, 900_000);

  afterAll(async () => {
    await wp?.close();
    if (scratch) await scrubTenant(vm, scratch);
    await scrubTenant(vm, CRASHED);
    if (home) {
      await home.run(["tenant", "delete", T, "--purge", "--yes"], LONG);
      home.cleanup();
    }
  });

  it("a normal tenant reaches the fake WordPress on the lab network (so the next check can fail)", async () => {
    const seen = wp.requests.length;
    expect(await fetchFrom(`btw-${T}-n8n`)).toBe("HTTP 401");
    expect(wp.requests.length).toBe(seen + 1);
    expect(await activeWorkflows(T)).toBeGreaterThan(0);
  });

  it("a verify killed mid-way leaves a labelled stack with no egress and no active workflow", async () => {
    const child = execa(process.execPath, [BTW, "backup", "verify", "--backup", backupId], { env: home.env, extendEnv: false, reject: false });
    killedPid = child.pid!;
    const t0 = Date.now();
    while (!scratch && Date.now() - t0 < 600_000) {
      const r = await onVm(vm, ["docker", "ps", "--filter", "label=btw.scratch=1", "--filter", "status=running", "--format", '{{.Label "btw.tenant"}} {{.Label "btw.service"}} {{.Label "btw.owner"}}']);
      const line = r.stdout.split("\n").find((l) => l.includes(" n8n ") && l.endsWith(`:${killedPid}`));
      if (line) scratch = line.split(" ")[0]!;
      else await new Promise((res) => setTimeout(res, 500));
    }
    expect(scratch, "a scratch n8n of this verify never ran").toMatch(/^vfy-[0-9a-f]{8}$/);
    child.kill("SIGKILL");
    await child;

    const labels = await onVm(vm, ["docker", "inspect", "--format", '{{index .Config.Labels "btw.scratch"}} {{index .Config.Labels "btw.state"}} {{index .Config.Labels "btw.created-at"}}', `btw-${scratch}-n8n`]);
    expect(labels.stdout.trim()).toMatch(/^1 [0-9a-f-]{36} \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    const internal = await onVm(vm, ["docker", "network", "inspect", "--format", "{{.Internal}}", `btw-${scratch}-edge`, `btw-${scratch}-internal`]);
    expect(internal.stdout.trim().split("\n")).toEqual(["true", "true"]);

    const seen = wp.requests.length;
    expect(await fetchFrom(`btw-${scratch}-n8n`)).toMatch(/^FAIL /);
    expect(wp.requests.length).toBe(seen);
    expect(await activeWorkflows(scratch)).toBe(0);
  });

  it("doctor reports the stale scratch stack", async () => {
    const r = await home.run(["doctor", "--json"], LONG);
    const checks = (JSON.parse(r.stdout) as { checks: Array<{ check: string; level: string; detail: string; fix?: string }> }).checks;
    const c = checks.find((x) => x.check === `scratch ${vm.name}`);
    expect(c, JSON.stringify(checks)).toMatchObject({ level: "warn", fix: expect.stringContaining("btw doctor --fix") });
    expect(c!.detail).toContain(`${scratch} (its verify (pid ${killedPid}) is gone)`);
  });

  it("the next verify removes the stale stack, says so, and verifies in a quarantined stack of its own", async () => {
    const t0 = Date.now();
    const r = await home.run(["backup", "verify", "--backup", backupId, "--json"], LONG);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`removed stale scratch stack ${scratch} on ${vm.name} (its verify (pid ${killedPid}) is gone)`);
    const out = JSON.parse(r.stdout) as { results: Array<{ ok: boolean; removedStale?: Array<{ slug: string }>; checks: Array<{ check: string; ok: boolean }> }> };
    expect(out.results[0]!.removedStale?.map((s) => s.slug)).toEqual([scratch]);
    // the tunnel reaches n8n on an internal-only network: every check ran and passed
    expect(out.results[0]!.checks.filter((c) => !c.ok)).toEqual([]);
    expect(out.results[0]!.checks.map((c) => c.check)).toEqual(expect.arrayContaining(["n8n ready with the escrowed key", "credentials decrypt"]));
    expect(await leftovers(scratch)).toBe("");
    process.stderr.write(`scratch e2e: verify with sweep ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });

  // issue 22 (Also): `doctor --fix` had never run to success
  it("doctor --fix removes the stale scratch stack it reports (another machine's verify, older than any verify runs): containers, volumes, networks, files; the tenant untouched", async () => {
    const image = (await onVm(vm, ["docker", "inspect", "--format", "{{.Config.Image}}", `btw-${T}-redis`])).stdout.trim();
    const labels = ["--label", "btw.scratch=1", "--label", `btw.tenant=${CRASHED}`, "--label", "btw.owner=crashed-host:4242", "--label", `btw.created-at=${new Date(Date.now() - 8 * 3600_000).toISOString()}`];
    for (const argv of [
      ["docker", "network", "create", "--internal", ...labels, `btw-${CRASHED}-internal`],
      ["docker", "volume", "create", ...labels, `btw-${CRASHED}-pgdata`],
      ["docker", "run", "-d", "--name", `btw-${CRASHED}-postgres`, ...labels, "--network", `btw-${CRASHED}-internal`, "-v", `btw-${CRASHED}-pgdata:/data`, "--entrypoint", "sleep", image, "infinity"],
      ["mkdir", "-p", `/opt/btw/tenants/${CRASHED}`],
    ]) {
      const r = await onVm(vm, argv);
      expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(0);
    }
    const scratchCheck = async (args: string[]) => {
      const r = await home.run(["doctor", "--json", ...args], LONG);
      const checks = (JSON.parse(r.stdout) as { checks: Array<{ check: string; level: string; detail: string; fix?: string }> }).checks;
      return checks.find((x) => x.check === `scratch ${vm.name}`);
    };
    const reported = await scratchCheck([]);
    expect(reported).toMatchObject({ level: "warn", fix: expect.stringContaining("btw doctor --fix") });
    expect(reported!.detail).toMatch(new RegExp(`${CRASHED} \\(4\\d\\d min old\\)`));
    expect(await leftovers(CRASHED), "doctor without --fix changes nothing").not.toBe("");

    const fixed = await scratchCheck(["--fix"]);
    expect(fixed).toMatchObject({ level: "ok" });
    expect(fixed!.detail).toMatch(new RegExp(`^removed 1 stale scratch stack\\(s\\): ${CRASHED} \\(4\\d\\d min old\\)$`));
    expect(await leftovers(CRASHED)).toBe("");
    expect(await scratchCheck([])).toMatchObject({ level: "ok", detail: "no stale scratch stacks" });
    // the tenant beside it: all its containers still running (n8n, Postgres, Redis, the task runner)
    const running = await onVm(vm, ["docker", "ps", "-q", "--filter", `label=btw.tenant=${T}`, "--filter", "status=running"]);
    expect(running.stdout.trim().split("\n")).toHaveLength(4);
  });
});
