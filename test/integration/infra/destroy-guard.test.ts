// `infra destroy` never deletes a server that still holds tenants: it refuses (exit 2) and
// names them, from btw's state alone — before terraform runs, without Hetzner.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorLines, stateSql, type BtwHome } from "../../support/cli.js";
import { infraHome } from "./support.js";

describe("infra destroy with tenants on a server", () => {
  let home: BtwHome;
  beforeAll(async () => {
    home = await infraHome();
    // btw-1 and btw-2 are the stack's servers (hetzner.servers: 2); a third, hand-added one is not
    await stateSql(home, `insert into servers (name, host, capacity, status, provider_id) values ('btw-1', '198.51.100.1', 12, 'active', '101'), ('btw-2', '198.51.100.2', 12, 'active', '102'), ('elsewhere', '198.51.100.9', 12, 'active', null)`);
    await stateSql(
      home,
      `insert into tenants (slug, plan, weight, server_id, status, subnet)
         select v.slug, 'starter', 1, s.id, v.status, v.subnet::cidr
           from (values ('acme', 'btw-1', 'active', '10.220.0.0/26'), ('globex', 'btw-1', 'suspended', '10.220.0.64/26'),
                        ('initech', 'btw-2', 'failed', '10.220.0.0/26'), ('gone', 'btw-2', 'deleted', '10.220.0.64/26'),
                        ('hooli', 'elsewhere', 'active', '10.220.0.0/26')) v(slug, server, status, subnet)
           join servers s on s.name = v.server`,
    );
  });
  afterAll(() => home?.cleanup());

  for (const flags of [["--yes"], ["--dry-run"]]) {
    it(`refuses with exit 2 and names each server's tenants (${flags.join(" ")})`, async () => {
      const r = await home.run(["infra", "destroy", ...flags], { env: { HCLOUD_TOKEN: "unused-token-value" } });
      expect(r.code).toBe(2);
      expect(errorLines(r.stderr)).toEqual(["error: refusing to destroy the platform: servers still hold tenants: btw-1 (acme, globex); btw-2 (initech)"]);
      expect(r.stderr).toMatch(/^hint: move the tenants/m);
      // refused before anything was synthesized or run
      expect(existsSync(join(home.dir, "infra"))).toBe(false);
    });
  }

  it("--json carries the same refusal as a machine-readable error", async () => {
    const r = await home.run(["infra", "destroy", "--yes", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toContain("server-not-empty");
  });
});
