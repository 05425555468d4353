import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { killDuring, stateSql, type BtwHome } from "../support/cli.js";
import { LAB_DOMAIN, labHome, onVm, viaProxy, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { makeExecutions, snapshot, tenantApi, scrubTenant } from "../integration/backup/tenant-api.js";

// Time: ~6 min (359 s alone, 2026-12-07): one tenant, four migrations of it (migrate, rollback,
// migrate again, the rebalance's — killed once and resumed), each a backup, a restore and an
// n8n start on the other server.
//
// Moving a tenant between servers: lab-1 → lab-2 with its data, the route switched (lab-2's
// proxy answers, lab-1's does not), then --rollback to the kept source, then --cleanup; then
// capacity from lab-2's own memory limit and `fleet rebalance` moving the tenant back (issue 26).
// (The VMs' proxies are shared with other test runs, whose route syncs render only their own
// tenants; run this file alone for a quiet proxy.)
describe("tenant migrate on the lab", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm1: LabServer;
  let vm2: LabServer;
  const T = "bk-mv";
  const host = `${T}.${LAB_DOMAIN}`;
  let before: Awaited<ReturnType<typeof snapshot>>;
  const btw = (args: string[]) => home.run(args);
  const containers = async (vm: LabServer) => (await onVm(vm, ["docker", "ps", "-a", "-q", "--filter", `label=btw.tenant=${T}`])).stdout.trim();
  /** T's workflows, credentials and executions on `vm` are those snapshotted at the start */
  const expectSameData = async (vm: LabServer) => {
    const api = await tenantApi(home, vm, T, LAB_DOMAIN);
    try {
      expect(await snapshot(api)).toEqual(before);
    } finally {
      api.close();
    }
  };
  const volumes = async (vm: LabServer) => (await onVm(vm, ["docker", "volume", "ls", "-q", "--filter", `label=btw.tenant=${T}`])).stdout.trim();

  beforeAll(async () => {
    lab = labInfo();
    [vm1, vm2] = [lab.servers[0]!, lab.servers[1]!];
    for (const s of lab.allServers) for (const t of [T]) await scrubTenant(s, t);
    home = await labHome(lab);
    // a pool of its own: the lab VMs are shared with other test runs, each allocating from the bottom of its pool
    appendFileSync(join(home.dir, "btw.yml"), "placement:\n  subnetPool: 10.232.0.0/16\n");
    const r = await btw(["tenant", "create", T, "--plan", "starter", "--server", vm1.name]);
    expect(r.code, r.stderr).toBe(0);
    const api = await tenantApi(home, vm1, T, LAB_DOMAIN);
    try {
      await makeExecutions(api, 2);
      before = await snapshot(api);
    } finally {
      api.close();
    }
  });
  afterAll(async () => {
    await home?.run(["tenant", "delete", T, "--purge", "--no-final-backup", "--yes"]);
    for (const vm of [vm1, vm2]) {
      if (vm) await onVm(vm, ["sh", "-c", `docker ps -aq --filter label=btw.tenant=${T} | xargs -r docker rm -f; docker volume ls -q --filter label=btw.tenant=${T} | xargs -r docker volume rm; rm -rf /opt/btw/tenants/${T}`]);
    }
    home?.cleanup();
  });

  it("refuses a migration to the server it is on, and a dry run changes nothing", async () => {
    const same = await btw(["tenant", "migrate", T, "--to", vm1.name]);
    expect(same.code).toBe(2);
    const dry = await btw(["tenant", "migrate", T, "--to", vm2.name, "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, from: vm1.name, to: vm2.name, problems: [] });
  });

  it("migrates lab-1 → lab-2: same data, lab-2's proxy answers and lab-1's does not; the source is kept; lab-2's subnet avoids a network someone else has there", async () => {
    // lab-2 holds no tenant of this state, so the state alone would give T there the subnet it
    // has on lab-1: a network left on lab-2 (another state's tenant, a killed run's) takes it
    const subnetOf = async () => ((await stateSql(home, "select subnet::text as subnet from tenants where slug = $1 and status <> 'deleted'", [T])) as Array<{ subnet: string }>)[0]!.subnet;
    // the pool's first block: what the state alone would pick on a server where it has no tenant
    const { placement } = (JSON.parse((await btw(["config", "show", "--json"])).stdout) as { config: { placement: { subnetPool: string } } }).config;
    expect(await stateSql(home, "select slug from tenants t join servers s on s.id = t.server_id where s.name = $1 and t.status <> 'deleted'", [vm2.name])).toEqual([]);
    const taken = placement.subnetPool.replace(/\/\d+$/, "/27");
    const foreign = await onVm(vm2, ["docker", "network", "create", "--subnet", taken, "btw-mig-foreign"]);
    expect(foreign.code, foreign.stderr).toBe(0);
    let r;
    try {
      r = await btw(["tenant", "migrate", T, "--to", vm2.name, "--json"]);
    } finally {
      await onVm(vm2, ["docker", "network", "rm", "btw-mig-foreign"]);
    }
    expect(r.code, r.stderr).toBe(0);
    expect((await subnetOf()).replace(/\/\d+$/, "/27")).not.toBe(taken);
    const m = JSON.parse(r.stdout) as { migration: { from: string; to: string; finalBackup: string; downtimeSeconds: number } };
    expect(m.migration).toMatchObject({ from: vm1.name, to: vm2.name });
    expect((await viaProxy(vm2, host, "/healthz")).status).toBe(200);
    expect((await viaProxy(vm1, host, "/healthz")).status).toBe(404);
    await expectSameData(vm2);
    // the source: no containers, data kept
    expect(await containers(vm1)).toBe("");
    expect(await volumes(vm1)).not.toBe("");
    const show = JSON.parse((await btw(["tenant", "list", "--json"])).stdout) as { tenants: Array<{ slug: string; serverName: string; status: string }> };
    expect(show.tenants.find((t) => t.slug === T)).toMatchObject({ serverName: vm2.name, status: "active" });
  });

  it("--rollback goes back to the kept source: lab-1 answers again, lab-2 holds nothing", async () => {
    const r = await btw(["tenant", "migrate", T, "--rollback", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await viaProxy(vm1, host, "/healthz")).status).toBe(200);
    expect((await viaProxy(vm2, host, "/healthz")).status).toBe(404);
    await expectSameData(vm1);
    expect(await containers(vm2)).toBe("");
    expect(await volumes(vm2)).toBe("");
    const again = await btw(["tenant", "migrate", T, "--rollback"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/no migration to roll back/);
  });

  it("--cleanup after a migration removes the kept source stack", async () => {
    const again = await btw(["tenant", "migrate", T, "--to", vm2.name]);
    expect(again.code, again.stderr).toBe(0);
    expect(await volumes(vm1)).not.toBe("");
    // destructive: refused without --yes (nothing removed), done with it
    const refused = await btw(["tenant", "migrate", T, "--cleanup"]);
    expect(refused.code).toBe(2);
    expect(await volumes(vm1)).not.toBe("");
    const r = await btw(["tenant", "migrate", T, "--cleanup", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await volumes(vm1)).toBe("");
    expect((await onVm(vm1, ["test", "-e", `/opt/btw/tenants/${T}`])).code).not.toBe(0);
    expect((await viaProxy(vm2, host, "/healthz")).status).toBe(200);
  });

  // issue 26: capacity read from what the servers really have. lab-2's VM is given a memory
  // limit of its own (20 GiB, a cgroup limit the host's 24 GiB of RAM is above); with a
  // platform reserve of 21 GiB lab-2 has nothing left for T, lab-1 has 3 GiB: lab-2 is over its
  // policy, and the rebalance moves T to lab-1 — killed once on the way, finished by a re-run.
  it("capacity counts lab-2's own memory limit; fleet rebalance moves T off it, killed once and finished by the next --apply", async () => {
    const vmLimit = async (vm: LabServer, limit: string) => {
      const r = await execa("docker", ["update", "--memory", limit, "--memory-swap", limit, vm.name], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
    };
    await vmLimit(vm2, "20g");
    try {
      const file = join(home.dir, "btw.yml");
      const c = parse(readFileSync(file, "utf8")) as { placement: Record<string, unknown> };
      c.placement = { ...c.placement, resources: { platformReserve: { memoryMb: 21 * 1024 } } };
      writeFileSync(file, stringify(c));
      expect((await btw(["server", "check", vm1.name])).code).toBe(0);
      expect((await btw(["server", "check", vm2.name])).code).toBe(0);
      // what lab-2 reports is its cgroup's own limit, as Docker set it
      const facts = (await stateSql(home, "select name, facts from servers order by name")) as Array<{ name: string; facts: { memLimitBytes?: number; memTotalBytes: number } }>;
      const limit = Number((await execa("docker", ["inspect", "-f", "{{.HostConfig.Memory}}", vm2.name])).stdout.trim());
      expect(limit).toBe(20 * 2 ** 30);
      expect(facts.find((f) => f.name === vm2.name)!.facts.memLimitBytes).toBe(limit);
      expect(facts.find((f) => f.name === vm1.name)!.facts.memLimitBytes ?? null).toBeNull();
      const cap = await btw(["capacity", "--json"]);
      expect(cap.code, cap.stderr).toBe(3);
      const servers = (JSON.parse(cap.stdout) as { servers: Array<{ name: string; allocatable: { memoryMb: number }; over: string[] }> }).servers;
      expect(servers.find((s) => s.name === vm2.name)).toMatchObject({ allocatable: { memoryMb: 0 }, over: ["memory"] });
      const total1 = facts.find((f) => f.name === vm1.name)!.facts.memTotalBytes;
      expect(servers.find((s) => s.name === vm1.name)).toMatchObject({ allocatable: { memoryMb: Math.floor(total1 / 2 ** 20) - 21 * 1024 }, over: [] });

      const planned = await btw(["fleet", "rebalance", "--json"]);
      expect(planned.code, planned.stderr).toBe(0);
      expect((JSON.parse(planned.stdout) as { moves: unknown[] }).moves).toEqual([{ tenant: T, plan: "starter", from: vm2.name, to: vm1.name, why: ["memory"] }]);
      await killDuring(home, ["fleet", "rebalance", "--apply", "--yes"], "wait for n8n on the target");
      const again = await btw(["fleet", "rebalance", "--apply", "--yes", "--json"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(new RegExp(`finishing ${T}'s migration ${vm2.name} → ${vm1.name}`));
      expect((JSON.parse(again.stdout) as { migrated: Array<{ tenant: string; to: string }> }).migrated).toEqual([expect.objectContaining({ tenant: T, to: vm1.name })]);
      expect((await viaProxy(vm1, host, "/healthz")).status).toBe(200);
      await expectSameData(vm1);
      expect((await btw(["capacity"])).code).toBe(0);
      // what T really uses, as `usage collect` samples it, against Docker's own figures for
      // its containers on lab-1 (taken a moment apart: within a quarter)
      const collected = await btw(["usage", "collect", "--no-notify"]);
      expect(collected.code, collected.stderr).toBe(0);
      const used = (JSON.parse((await btw(["capacity", "--json"])).stdout) as { servers: Array<{ name: string; used: { memoryMb: number } | null }> }).servers.find((x) => x.name === vm1.name)!.used;
      const stats = (await onVm(vm1, ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"])).stdout.split("\n").filter((l) => l.startsWith(`btw-${T}-`));
      const mib = stats.reduce((n, l) => {
        const m = /\s([\d.]+)(KiB|MiB|GiB)\s\//.exec(l)!;
        return n + Number(m[1]) * ({ KiB: 1 / 1024, MiB: 1, GiB: 1024 } as Record<string, number>)[m[2]!]!;
      }, 0);
      // a starter's n8n, Postgres, Redis and its task runner (its own container; usage collect sums them all)
      expect(stats.length).toBe(4);
      expect(used).not.toBeNull();
      expect(Math.abs(used!.memoryMb - mib) / mib, `btw ${used!.memoryMb} MiB, docker stats ${mib.toFixed(0)} MiB`).toBeLessThan(0.25);
      // and its volumes' bytes, against du on the server (the same bytes the engine walks)
      const diskGb = (JSON.parse((await btw(["capacity", "--json"])).stdout) as { servers: Array<{ name: string; usedDiskGb: number | null }> }).servers.find((x) => x.name === vm1.name)!.usedDiskGb;
      const du = (await onVm(vm1, ["sh", "-c", `du -sbc $(docker volume ls -q --filter label=btw.tenant=${T} | sed 's|^|/var/lib/docker/volumes/|; s|$|/_data|') | tail -n 1`])).stdout.trim();
      const duGb = Number(du.split(/\s+/)[0]) / 2 ** 30;
      expect(duGb).toBeGreaterThan(0.01);
      expect(diskGb, `btw ${diskGb} GB, du ${duGb.toFixed(3)} GB`).not.toBeNull();
      expect(Math.abs(diskGb! - duGb), `btw ${diskGb} GB, du ${duGb.toFixed(3)} GB`).toBeLessThan(Math.max(0.1, duGb * 0.25));
    } finally {
      // effectively no limit again (above the machine's RAM): the lane's next files see the whole host
      await vmLimit(vm2, "1t");
    }
  });
});
