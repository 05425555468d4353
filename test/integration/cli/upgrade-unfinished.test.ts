import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";

// An upgrade killed after it recorded the new image, before it finished (the tenant still
// `upgrading`, or its status back but the journal step still running): the same command must
// reach that tenant again to finish it. `upgrade redis` and `upgrade postgres` left out every
// tenant whose recorded image was the target, so the re-run did nothing and the tenant stayed
// behind the maintenance page with a running journal step that refused any later upgrade.
// Read from the state alone (--dry-run: the waves the real run would go through).
describe("upgrade redis / postgres reach a tenant whose upgrade did not finish, whatever its recorded image", () => {
  let home: BtwHome;
  const REDIS_FROM = "redis:7.4.7-bookworm";
  const REDIS_TO = "redis:7.4.8-bookworm";
  const PG_FROM = "postgres:16.10-bookworm";
  const PG_TO = "postgres:17.7-bookworm";

  const tenant = async (slug: string, subnet: string, status: string, images: { redis: string; postgres: string; pgdata?: string }) =>
    stateSql(
      home,
      `insert into tenants (slug, plan, server_id, subnet, status, n8n_image, postgres_image, redis_image, pgdata_volume)
       select $1, 'starter', id, $2::cidr, $3, 'docker.n8n.io/n8nio/n8n:2.8.4', $4, $5, $6 from servers`,
      [slug, subnet, status, images.postgres, images.redis, images.pgdata ?? null],
    );
  const journal = async (slug: string, step: string, status: string, details: Record<string, unknown>) =>
    stateSql(home, `insert into operations (kind, step, tenant_id, status, details, finished_at)
       select 'tenant.upgrade', $2, id, $3, $4::jsonb, case when $3 = 'running' then null else now() end from tenants where slug = $1`, [slug, step, status, JSON.stringify(details)]);
  const waves = async (args: string[]) => {
    const r = await home.run([...args, "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { waves: string[][] }).waves;
  };

  beforeAll(async () => {
    home = tempHome();
    expect((await home.run(["init", "--domain", "example.com"])).code).toBe(0);
    expect((await home.run(["server", "add", "dead", "--host", "127.0.0.1", "--port", "9", "--capacity", "10", "--no-verify"])).code).toBe(0);
    await stateSql(home, "update servers set status = 'active'");
    // killed between recording the new Redis and putting the tenant back: still upgrading
    await tenant("rd-stuck", "10.220.0.0/26", "upgrading", { redis: REDIS_TO, postgres: PG_FROM });
    await journal("rd-stuck", "redis", "running", { from: REDIS_FROM, to: REDIS_TO, priorStatus: "active", phase: "backed-up", backup: "rd-stuck-x" });
    // killed while its route was re-rendered: status back, the step still running
    await tenant("rd-route", "10.220.0.64/26", "active", { redis: REDIS_TO, postgres: PG_FROM });
    await journal("rd-route", "redis", "running", { from: REDIS_FROM, to: REDIS_TO, priorStatus: "active", phase: "backed-up", backup: "rd-route-x" });
    // finished: nothing to do
    await tenant("rd-done", "10.220.0.128/26", "active", { redis: REDIS_TO, postgres: PG_FROM });
    await journal("rd-done", "redis", "done", { from: REDIS_FROM, to: REDIS_TO, priorStatus: "active", phase: "done" });
    // still on the old Redis: the upgrade's ordinary work
    await tenant("rd-old", "10.220.0.192/26", "active", { redis: REDIS_FROM, postgres: PG_FROM });
    // a Postgres upgrade killed after recording 17 and its volume, as above
    await tenant("pg-stuck", "10.220.1.0/26", "upgrading", { redis: REDIS_TO, postgres: PG_TO, pgdata: "btw-pg-stuck-pgdata-pg17" });
    await journal("pg-stuck", "postgres", "running", {
      from: PG_FROM, to: PG_TO, fromVolume: "btw-pg-stuck-pgdata", toVolume: "btw-pg-stuck-pgdata-pg17", dumpFile: "/opt/btw/tenants/pg-stuck/pg-upgrade/n8n-pg16.dump", priorStatus: "active", phase: "restored",
    });
  }, 120_000);
  afterAll(() => home?.cleanup());

  it("upgrade redis: the two unfinished tenants and the one on the old image, not the finished one", async () => {
    expect((await waves(["upgrade", "redis", "--all", "--to", REDIS_TO, "--wave-size", "10"])).flat().sort()).toEqual(["rd-old", "rd-route", "rd-stuck"]);
    expect(await waves(["upgrade", "redis", "--tenant", "rd-route", "--to", REDIS_TO])).toEqual([["rd-route"]]);
    expect(await waves(["upgrade", "redis", "--tenant", "rd-done", "--to", REDIS_TO])).toEqual([]);
  });

  it("upgrade postgres: the unfinished tenant is in the waves, with no plan to refuse (it already records the target major)", async () => {
    const r = await home.run(["upgrade", "postgres", "--tenant", "pg-stuck", "--to", PG_TO, "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ waves: [["pg-stuck"]], plans: [], unchanged: [] });
  });
});
