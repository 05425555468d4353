import { describe, expect, it } from "vitest";
import { requireTenantSlug, tenantHost, tenantLayout } from "../../../src/core/tenant/layout.js";
import { UsageError } from "../../../src/errors.js";

describe("tenantLayout", () => {
  it("names everything a tenant has on its server", () => {
    expect(tenantLayout("acme")).toEqual({
      slug: "acme",
      dir: "/opt/btw/tenants/acme",
      composeFile: "/opt/btw/tenants/acme/compose.yml",
      envFile: "/opt/btw/tenants/acme/.env",
      project: "btw-acme",
      networks: { internal: "btw-acme-internal", edge: "btw-acme-edge" },
      volumes: { pgdata: "btw-acme-pgdata", n8ndata: "btw-acme-n8ndata", redisdata: "btw-acme-redisdata" },
      containers: { postgres: "btw-acme-postgres", redis: "btw-acme-redis", n8n: "btw-acme-n8n", worker: "btw-acme-worker", runner: "btw-acme-runner", "worker-runner": "btw-acme-worker-runner" },
      edgeAlias: "n8n-acme",
    });
  });

  it.each(["Acme", "a", "../etc", "acme/x", "-acme", "acme-", "a b", "x".repeat(33), ""])("refuses %j (it would become a path and names)", (slug) => {
    expect(() => tenantLayout(slug)).toThrow(UsageError);
  });

  it("does not apply the reserved-name rule (that is create's job; layout serves existing tenants)", () => {
    expect(requireTenantSlug("www")).toBe("www");
  });

  it("tenantHost is <slug>.<domain>", () => {
    expect(tenantHost("acme", "example.com")).toBe("acme.example.com");
  });
});
