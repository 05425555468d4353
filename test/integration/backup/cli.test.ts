import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

// backup commands without servers, against a real PostgreSQL state (the pg driver: advisory
// locks are per session, so two btw processes really can overlap).
describe("backup commands (pg state)", () => {
  let pg: TestDatabase;
  let home: BtwHome;
  beforeAll(async () => {
    pg = await createTestDatabase();
    home = tempHome({ BTW_DATABASE_URL: pg.url });
    const init = await home.run(["init", "--domain", "example.com", "--tls", "off"]);
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(async () => {
    home?.cleanup();
    await pg?.drop();
  });

  it("a second overlapping `backup all` exits 75 naming the lock", async () => {
    const { openDb } = await import("../../../src/state/db.js");
    const db = await openDb({ url: pg.url, dataDir: "unused", command: "backup all (test)" });
    try {
      const lock = await db.tryLock({ kind: "bulk", name: "backup-all" });
      expect(lock).not.toBeNull();
      const r = await home.run(["backup", "all"]);
      expect(r.code, r.stderr).toBe(75);
      expect(r.stderr).toMatch(/another `btw backup all` is running/);
      await lock!.release();
      const free = await home.run(["backup", "all", "--json"]);
      expect(free.code, free.stderr).toBe(0);
      expect(JSON.parse(free.stdout)).toMatchObject({ ok: true, total: 0 });
    } finally {
      await db.close();
    }
  });

  it("a `running` row whose btw died is cleaned up by the next run: partial removed, row failed", async () => {
    const dir = join(home.dir, "backups", "acme");
    mkdirSync(dir, { recursive: true });
    const id = "acme-20260101T000000Z-abcd";
    const location = join(dir, `${id}.btwb`);
    writeFileSync(`${location}.partial`, "half an upload");
    await stateSql(home, `insert into backups (id, tenant_slug, location) values ($1, 'acme', $2)`, [id, location]);
    const r = await home.run(["backup", "all", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`backup ${id} had been interrupted`));
    const { existsSync } = await import("node:fs");
    expect(existsSync(`${location}.partial`)).toBe(false);
    const rows = (await stateSql(home, `select status, error from backups where id = $1`, [id])) as Array<{ status: string; error: string }>;
    expect(rows[0]).toMatchObject({ status: "failed" });
    expect(rows[0]!.error).toMatch(/interrupted/);
  });

  it("prune --dry-run keeps the newest per tenant and says what it would delete; restore of an unknown backup is exit 2", async () => {
    const dir = join(home.dir, "backups");
    for (const [i, day] of ["2026-01-01", "2026-01-01", "2026-01-02"].entries()) {
      const id = `beta-${day.replace(/-/g, "")}T0${i}0000Z-00${i}0`;
      await stateSql(
        home,
        `insert into backups (id, tenant_slug, location, status, size_bytes, sha256, created_at, finished_at) values ($1, 'beta', $2, 'done', 1, $3, $4, $4)`,
        [id, join(dir, "beta", `${id}.btwb`), "0".repeat(64), `${day}T0${i}:00:00Z`],
      );
    }
    const r = await home.run(["backup", "prune", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { remove: Array<{ id: string }>; keep: Array<{ id: string }> };
    // retention defaults keep one per day: 2026-01-01 has two → the older goes
    expect(plan.remove.map((b) => b.id)).toEqual(["beta-20260101T000000Z-0000"]);
    const bad = await home.run(["restore", "beta", "--backup", "nope-20260101T000000Z-0000", "--yes"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/backup 'nope-20260101T000000Z-0000' does not exist/);
    const list = await home.run(["backup", "list", "--tenant", "beta", "--json"]);
    expect((JSON.parse(list.stdout) as { backups: unknown[] }).backups).toHaveLength(3);
  });

  it("verify needs to be told which backups", async () => {
    const r = await home.run(["backup", "verify"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tenant <name>, --backup <id> or --all/);
  });
});
