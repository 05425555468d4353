// The real `terraform` (1.11 here) driven by btw, as far as it goes without the provider
// registry: it reads the synthesized JSON, configures the backend (local, or the central
// Postgres from PG_CONN_STR), and stops at the provider download — which btw reports in one
// line naming terraform.providerMirror. Nothing here reaches Hetzner or the internet.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorLines, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";
import { infraHome, OFFLINE } from "./support.js";

const TOKEN = "hcloud-test-token-0123456789abcdef";

describe("btw infra with the real terraform, offline", () => {
  let home: BtwHome;
  beforeAll(async () => {
    home = await infraHome();
  });
  afterAll(() => home?.cleanup());

  it("infra synth needs neither terraform nor a token", async () => {
    const r = await home.run(["infra", "synth", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stackFile).toBe(join(home.dir, "infra", "cdktf.out", "stacks", "platform", "cdk.tf.json"));
    expect(out.resources.hcloud_server).toBe(2);
    expect(existsSync(out.manifest)).toBe(true);
  });

  it("plan: terraform reads the stack and configures the local backend, then btw reports the unreachable registry in one line", async () => {
    const r = await home.run(["infra", "plan", "--verbose"], { env: { ...OFFLINE, HCLOUD_TOKEN: TOKEN } });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([
      "error: terraform cannot download the provider hetznercloud/hcloud: registry.terraform.io is not reachable from this host (terraform.providerMirror is not set)",
    ]);
    expect(r.stderr).toMatch(/^hint: set terraform\.providerMirror in btw\.yml/m);
    // how far it got: the JSON parsed, the backend configured, the provider constraint read
    expect(r.stderr).toContain('Successfully configured the backend "local"');
    expect(r.stderr).toContain('Finding hetznercloud/hcloud versions matching "~> 1.68"');
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it("with terraform.providerMirror: providers come only from there (-plugin-dir), and a mirror without hcloud is named", async () => {
    const mirror = mkdtempSync(join(tmpdir(), "btw-mirror-"));
    const h = await infraHome({}, `terraform:\n  providerMirror: ${mirror}`);
    try {
      // no proxy: with -plugin-dir terraform does not try the registry at all
      const r = await h.run(["infra", "plan"], { env: { HCLOUD_TOKEN: TOKEN } });
      expect(r.code).toBe(2);
      expect(errorLines(r.stderr)).toEqual([`error: hetznercloud/hcloud is not in terraform.providerMirror (${mirror}) for this platform and version constraint`]);
    } finally {
      h.cleanup();
      rmSync(mirror, { recursive: true, force: true });
    }
  });

  it("plan without a token stops before anything runs, naming HCLOUD_TOKEN", async () => {
    const h = await infraHome();
    try {
      const r = await h.run(["infra", "plan"], { env: OFFLINE });
      expect(r.code).toBe(2);
      expect(errorLines(r.stderr)).toEqual(["error: no Hetzner API token"]);
      expect(r.stderr).toMatch(/^hint: export HCLOUD_TOKEN=/m);
      expect(existsSync(join(h.dir, "infra"))).toBe(false);
    } finally {
      h.cleanup();
    }
  });

  it("a missing binary (terraform.binary: tofu here) is a config error naming the setting", async () => {
    const h = await infraHome({}, "terraform:\n  binary: tofu");
    try {
      const r = await h.run(["infra", "output"], { env: { PATH: "/usr/bin:/bin" } });
      expect(r.code).toBe(2);
      expect(errorLines(r.stderr)).toEqual(["error: tofu is not installed (or not on PATH)"]);
      expect(r.stderr).toContain("terraform.binary");
    } finally {
      h.cleanup();
    }
  });
});

describe("btw infra with the central Postgres as Terraform's backend", () => {
  let pg: TestDatabase;
  let home: BtwHome;
  beforeAll(async () => {
    pg = await createTestDatabase();
    home = await infraHome({ BTW_DATABASE_URL: `${pg.url}?sslmode=disable` });
    const m = await home.run(["db", "migrate"]);
    expect(m.code, m.stderr).toBe(0);
  });
  afterAll(async () => {
    home?.cleanup();
    await pg?.drop();
  });

  it("terraform opens the pg backend from PG_CONN_STR (its schema appears) before the provider stop; the URL is never shown", async () => {
    const r = await home.run(["infra", "plan", "--verbose"], { env: { ...OFFLINE, HCLOUD_TOKEN: TOKEN } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Successfully configured the backend "pg"');
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stdout + r.stderr).not.toContain(pg.url);
    const { default: pgClient } = await import("pg");
    const client = new pgClient.Client({ connectionString: pg.url });
    await client.connect();
    try {
      const schemas = await client.query("select schema_name from information_schema.schemata where schema_name = 'btw_terraform'");
      expect(schemas.rowCount).toBe(1);
    } finally {
      await client.end();
    }
  });
});
