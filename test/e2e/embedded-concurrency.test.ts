import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { BTW, stateSql, type BtwHome, type BtwResult } from "../support/cli.js";
import { labHome, type LabInfo, type LabServer } from "../support/lab-home.js";
import { labInfo, type LaneLab } from "./support/lab.js";
import { scrubTenant } from "../integration/backup/tenant-api.js";

// Time: ~5–8 min (446 s in two lanes beside unit and integration, 2026-12-06): five tenants created
// by concurrent btw processes on the embedded store, then `backup all` over them.
//
// The embedded default (no database.url) with several btw processes at once on real servers:
// while `backup all` runs over several tenants, five other commands all succeed (none exits
// 75); two creates of the same tenant still give one winner and one exit 75; the store server
// killed with -9 between two commands is recovered by the next.
describe("many btw at once on the embedded store (lab)", () => {
  let lab: LaneLab;
  let home: BtwHome;
  let vm1: LabServer;
  let vm2: LabServer;
  const ON_VM1 = ["ec-a", "ec-b", "ec-c"];
  const ON_VM2 = ["ec-d", "ec-twin"];
  const btw = (args: string[]) => home.run(args);
  const ok = (r: BtwResult, what: string) => expect(r.code, `${what}: ${r.stderr}`).toBe(0);

  beforeAll(async () => {
    lab = labInfo();
    [vm1, vm2] = [lab.servers[0]!, lab.servers[1]!];
    for (const s of lab.allServers) for (const t of [...ON_VM1, ...ON_VM2]) await scrubTenant(s, t);
    home = await labHome(lab);
    // a pool of its own: the lab VMs are shared with other test files
    appendFileSync(join(home.dir, "btw.yml"), "placement:\n  subnetPool: 10.233.0.0/16\n");
    // at once: the state admits several btw processes
    const created = await Promise.all(ON_VM1.map((t) => btw(["tenant", "create", t, "--plan", "starter", "--server", vm1.name])));
    created.forEach((r, i) => ok(r, `create ${ON_VM1[i]}`));
  });
  afterAll(async () => {
    await Promise.all([...ON_VM1, ...ON_VM2].map((t) => home?.run(["tenant", "delete", t, "--purge", "--no-final-backup", "--yes"]))); // at once: each takes its own tenant lock
    await home?.run(["db", "stop", "--force"]);
    home?.cleanup();
  });

  it("while backup all runs, five other commands (reads and a create on the other server) all succeed", async () => {
    // The backup is frozen (SIGSTOP) once it holds its locks, and thawed only after the five
    // others ended: each of them ran while the backup held everything it takes — no timing
    // race (before: "finished before the backup" failed when a loaded machine made a read
    // end 46 ms after a quick backup).
    const backup = execa(process.execPath, [BTW, "backup", "all", "--json"], { env: home.env, extendEnv: false, reject: false, cwd: home.dir, timeout: 600_000 });
    const lockedByBackup = async () =>
      Number(
        ((await stateSql(home, "select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory' and l.granted and a.application_name like $1", [`btw:${backup.pid}@%`])) as Array<{ n: number }>)[0]!.n,
      );
    const deadline = Date.now() + 120_000;
    while ((await lockedByBackup()) === 0) {
      expect(backup.exitCode, "backup all ended before it was seen holding a lock").toBeNull();
      expect(Date.now(), "backup all took no advisory lock within 120 s").toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(backup.pid!, "SIGSTOP");
    let others: BtwResult[];
    try {
      others = await Promise.all([
        btw(["tenant", "list", "--json"]),
        btw(["server", "list", "--json"]),
        btw(["tenant", "show", "ec-a", "--json"]),
        btw(["db", "status", "--json"]),
        btw(["tenant", "create", "ec-d", "--plan", "starter", "--server", vm2.name, "--json"]),
      ]);
      // still frozen with its locks: the five did not wait for them
      expect(await lockedByBackup()).toBeGreaterThan(0);
    } finally {
      process.kill(backup.pid!, "SIGCONT");
    }
    const b = await backup;
    ok({ code: b.exitCode ?? -1, stdout: b.stdout, stderr: b.stderr }, "backup all");
    const names = ["tenant list", "server list", "tenant show", "db status", "tenant create ec-d"];
    others.forEach((r, i) => {
      expect(r.code, `${names[i]}: ${r.stderr}`).not.toBe(75);
      ok(r, names[i]!);
    });
    const results = (JSON.parse(b.stdout) as { results: { tenant: string; ok: boolean }[] }).results;
    for (const t of ON_VM1) expect(results.find((r) => r.tenant === t), `${t} in ${b.stdout}`).toMatchObject({ ok: true });
  });

  it("two tenant create of the same tenant: exactly one winner, one exit 75", async () => {
    const rs = await Promise.all([
      btw(["tenant", "create", "ec-twin", "--plan", "starter", "--server", vm2.name]),
      btw(["tenant", "create", "ec-twin", "--plan", "starter", "--server", vm2.name]),
    ]);
    expect(rs.map((r) => r.code).sort()).toEqual([0, 75]);
    expect(rs.find((r) => r.code === 75)!.stderr).toMatch(/ec-twin/);
  });

  it("the store server killed with -9 between two commands: the next command works", async () => {
    const s = await btw(["db", "status", "--json"]);
    ok(s, "db status");
    const pid = (JSON.parse(s.stdout) as { server: { pid: number } }).server.pid;
    process.kill(pid, "SIGKILL");
    const r = await btw(["tenant", "list", "--json"]);
    ok(r, "tenant list after kill -9");
    expect((JSON.parse(r.stdout) as { tenants: { slug: string }[] }).tenants.map((t) => t.slug)).toEqual(
      expect.arrayContaining([...ON_VM1, ...ON_VM2]),
    );
  });
});
