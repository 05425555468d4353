// The tenant_domains module on both drivers: insert (a taken hostname gives null), the one
// webhook domain moving between a tenant's domains, the map the route renderers read, and a
// purge freeing the hostnames; the edge table rendered from it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { insertServer, updateServerLabels } from "../../../src/state/servers.js";
import {
  deleteTenantDomain,
  deleteTenantDomains,
  domainsByTenant,
  getTenantDomain,
  insertTenantDomain,
  listTenantDomains,
  setWebhookDomain,
  webhookHostOf,
} from "../../../src/state/tenant-domains.js";
import { insertTenant } from "../../../src/state/tenants.js";
import { edgeCaddyfileFor } from "../../../src/ops/edge/routes.js";
import { configSchema } from "../../../src/config/schema.js";
import { DRIVERS, driverFixture, type DriverFixture } from "./drivers.js";

describe.each(DRIVERS)("tenant_domains on %s", (driver) => {
  let fx: DriverFixture;
  let db: Db;
  let acme: number;
  let beta: number;

  beforeAll(async () => {
    fx = await driverFixture(driver);
    db = await fx.open();
    await migrate(db);
    const s = await insertServer(db, { name: "fsn1-1", host: "203.0.113.1", capacity: 20 });
    await updateServerLabels(db, s.id, { "btw-private-ip": "10.0.1.2" });
    acme = (await insertTenant(db, { slug: "acme", plan: "starter", serverId: s.id, subnet: "10.220.0.64/26", status: "active" })).id;
    beta = (await insertTenant(db, { slug: "beta", plan: "starter", serverId: s.id, subnet: "10.220.0.128/26", status: "active" })).id;
  });
  afterAll(async () => {
    await db?.close();
    await fx?.dispose();
  });

  it("inserts a hostname once; a second insert (any tenant) gives null", async () => {
    const row = await insertTenantDomain(db, { tenantId: acme, hostname: "app.customer.com", webhook: false });
    expect(row).toMatchObject({ tenantId: acme, tenantSlug: "acme", hostname: "app.customer.com", webhook: false });
    expect(row?.createdAt).toBeInstanceOf(Date);
    expect(await insertTenantDomain(db, { tenantId: beta, hostname: "app.customer.com", webhook: false })).toBeNull();
    expect(await insertTenantDomain(db, { tenantId: acme, hostname: "app.customer.com", webhook: true })).toBeNull();
    expect((await getTenantDomain(db, "app.customer.com"))?.tenantSlug).toBe("acme");
  });

  it("refuses a hostname that is not a lower-case DNS name", async () => {
    await expect(insertTenantDomain(db, { tenantId: acme, hostname: "App.Customer.com", webhook: false })).rejects.toThrow();
    await expect(insertTenantDomain(db, { tenantId: acme, hostname: "a b.com", webhook: false })).rejects.toThrow();
  });

  it("moves the webhook flag: one domain per tenant at most, null gives it back", async () => {
    await insertTenantDomain(db, { tenantId: acme, hostname: "www.customer.com", webhook: false });
    expect(await webhookHostOf(db, acme)).toBeNull();
    await setWebhookDomain(db, acme, "app.customer.com");
    expect(await webhookHostOf(db, acme)).toBe("app.customer.com");
    await setWebhookDomain(db, acme, "www.customer.com");
    expect(await webhookHostOf(db, acme)).toBe("www.customer.com");
    expect((await listTenantDomains(db, { tenantId: acme })).map((d) => [d.hostname, d.webhook])).toEqual([
      ["app.customer.com", false],
      ["www.customer.com", true],
    ]);
    await setWebhookDomain(db, acme, null);
    expect(await webhookHostOf(db, acme)).toBeNull();
  });

  it("the routes read the domains by tenant, and the edge table serves them", async () => {
    await insertTenantDomain(db, { tenantId: beta, hostname: "beta.shop.io", webhook: false });
    const m = await domainsByTenant(db);
    expect(m.get(acme)).toEqual(["app.customer.com", "www.customer.com"]);
    expect(m.get(beta)).toEqual(["beta.shop.io"]);
    expect((await domainsByTenant(db, [beta])).has(acme)).toBe(false);
    const config = configSchema.parse({ domain: "example.com", proxy: { mode: "edge" } });
    const table = await edgeCaddyfileFor(db, config);
    expect(table.text).toContain("http://acme.example.com, http://app.customer.com, http://www.customer.com {");
    expect(table.text).toContain("http://beta.example.com, http://beta.shop.io {");
  });

  it("removes one domain of a tenant only; a purge removes all of a tenant's", async () => {
    expect(await deleteTenantDomain(db, beta, "app.customer.com")).toBe(false);
    expect(await deleteTenantDomain(db, acme, "www.customer.com")).toBe(true);
    expect(await deleteTenantDomains(db, acme)).toBe(1);
    expect((await listTenantDomains(db)).map((d) => d.hostname)).toEqual(["beta.shop.io"]);
    // the hostname is free again
    expect(await insertTenantDomain(db, { tenantId: beta, hostname: "app.customer.com", webhook: true })).not.toBeNull();
  });
});
