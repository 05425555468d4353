// Quota notices against a real PostgreSQL (migration 012): usage collected over 80 % / 100 %
// of a plan's quota is told to the webhook once per threshold per month — twice in a row,
// or two runs at once — and a notice no channel took is sent again by the next run.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { usageOf } from "../../../src/ops/usage/flags.js";
import { notifyQuotas } from "../../../src/ops/usage/quota-notify.js";
import type { Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { listQuotaNotices } from "../../../src/state/quota-notices.js";
import { insertServer } from "../../../src/state/servers.js";
import { insertTenant } from "../../../src/state/tenants.js";
import { startFakeWebhook, type FakeWebhook } from "../../support/fake-webhook.js";
import { driverFixture, type DriverFixture } from "../state/drivers.js";

const config = configSchema.parse({ domain: "example.com", notifications: { webhook: {} } });
const ctx = { config };

describe("quota notices (pg)", () => {
  let fx: DriverFixture;
  let db: Db;
  let hook: FakeWebhook;
  let env: NodeJS.ProcessEnv;

  async function put(period: string, tenantId: number, slug: string, plan: string, metric: string, value: number) {
    await db.query(
      `insert into usage (period, tenant_id, tenant_slug, plan, metric, value) values ($1::date, $2, $3, $4, $5, $6)
       on conflict (period, tenant_id, metric) do update set value = excluded.value`,
      [period, tenantId, slug, plan, metric, value],
    );
  }
  const run = async (month: string) => {
    const u = await usageOf(db, config, month);
    return notifyQuotas(ctx, db, u.period, u.tenants, { env });
  };
  const sentEvents = () => hook.received.map((r) => { const j = r.json as { event: string; subject: string }; return `${j.event} ${j.subject}`; });

  beforeAll(async () => {
    fx = await driverFixture("pg");
    db = await fx.open();
    await migrate(db);
    hook = await startFakeWebhook();
    env = { BTW_WEBHOOK_URL: hook.url };
    const s = await insertServer(db, { name: "s1", host: "10.0.0.1", capacity: 10 });
    const acme = await insertTenant(db, { slug: "acme", plan: "starter", serverId: s.id, status: "active" });
    const beta = await insertTenant(db, { slug: "beta", plan: "pro", serverId: s.id, status: "active" });
    // acme: 85 % of its 10,000 executions; beta: under every quota
    await put("2026-11-01", acme.id, "acme", "starter", "executions.total", 8_500);
    await put("2026-11-01", acme.id, "acme", "starter", "workflows.active", 3);
    await put("2026-11-01", beta.id, "beta", "pro", "executions.total", 100);
  });
  afterAll(async () => {
    await hook?.close();
    await db?.close();
    await fx?.dispose();
  });

  it("notifies a tenant at 80 % once, however often usage is collected", async () => {
    const first = await run("2026-11");
    expect(first.map((n) => `${n.tenant} ${n.metric} ${n.level}`)).toEqual(["acme executions.total 80%"]);
    expect(first[0]!.deliveries).toEqual([{ channel: "webhook", ok: true }]);
    expect(await run("2026-11")).toEqual([]);
    expect(sentEvents()).toEqual(["quota.80 [btw] acme is at 80 % of its starter quota of executions this month (2026-11)"]);
    expect((await listQuotaNotices(db, "2026-11-01")).map((r) => [r.tenantSlug, r.metric, r.level, r.value, r.quota, r.deliveries])).toEqual([
      ["acme", "executions.total", "80%", 8_500, 10_000, [{ channel: "webhook", ok: true }]],
    ]);
  });

  it("notifies the 100 % threshold once more, and two runs at once send it once", async () => {
    const acmeId = (await db.query<{ id: number }>("select id::int as id from tenants where slug = 'acme'")).rows[0]!.id;
    await put("2026-11-01", acmeId, "acme", "starter", "executions.total", 10_200);
    const [a, b] = await Promise.all([run("2026-11"), run("2026-11")]);
    expect([...a, ...b].map((n) => `${n.tenant} ${n.metric} ${n.level}`)).toEqual(["acme executions.total 100%"]);
    expect(hook.received).toHaveLength(2);
    expect(await run("2026-11")).toEqual([]);
  });

  it("gives back a notice no channel took: the next run sends it", async () => {
    const betaId = (await db.query<{ id: number }>("select id::int as id from tenants where slug = 'beta'")).rows[0]!.id;
    await put("2026-11-01", betaId, "beta", "pro", "workflows.active", 25);
    hook.respondWith(500);
    const failed = await run("2026-11");
    expect(failed.map((n) => [n.tenant, n.level, n.deliveries[0]!.ok])).toEqual([["beta", "100%", false]]);
    expect((await listQuotaNotices(db, "2026-11-01")).filter((r) => r.tenantSlug === "beta")).toEqual([]);
    hook.respondWith(200);
    const again = await run("2026-11");
    expect(again.map((n) => [n.tenant, n.metric, n.level, n.deliveries[0]!.ok])).toEqual([["beta", "workflows.active", "100%", true]]);
    expect(await run("2026-11")).toEqual([]);
  });

  it("starts over in a new month, and sends nothing without a channel", async () => {
    const acmeId = (await db.query<{ id: number }>("select id::int as id from tenants where slug = 'acme'")).rows[0]!.id;
    await put("2026-12-01", acmeId, "acme", "starter", "executions.total", 9_000);
    expect(await notifyQuotas({ config: configSchema.parse({ domain: "example.com" }) }, db, "2026-12-01", (await usageOf(db, config, "2026-12")).tenants, { env })).toEqual([]);
    expect((await run("2026-12")).map((n) => `${n.tenant} ${n.level}`)).toEqual(["acme 80%"]);
  });
});
