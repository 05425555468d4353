import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusyError, ConflictError, OperationError } from "../../../src/errors.js";
import type { Db, Queryable } from "../../../src/state/db.js";
import { applyMigration, defaultSqlDir, loadMigrations, migrate, migrationStatus } from "../../../src/state/migrate.js";
import { DRIVERS, driverFixture, type DriverFixture, type DriverName } from "./drivers.js";

const EXPECTED_TABLES = [
  "audit_log",
  "backup_verifications",
  "backups",
  "btw_migrations",
  "host_keys",
  "job_runs",
  "master_keys",
  "operations",
  "quota_notices",
  "resource_samples",
  "server_secrets",
  "servers",
  "state_identity",
  "tenant_domains",
  "tenant_secrets",
  "tenants",
  "usage",
  "workflow_deployments",
  "workflow_templates",
];

/** Everything about the schema that migrations decide, in a driver-neutral form. */
async function describeSchema(q: Queryable): Promise<unknown> {
  const columns = await q.query(
    `select table_name, column_name, data_type, is_nullable, column_default, is_identity
       from information_schema.columns where table_schema = 'public' order by table_name, column_name`,
  );
  // PG 18 (PGlite) also lists NOT NULL as constraints ('n'); columns above already carry them.
  const constraints = await q.query(
    `select conrelid::regclass::text as tbl, conname, contype, pg_get_constraintdef(oid) as def
       from pg_constraint where connamespace = 'public'::regnamespace and contype <> 'n'
      order by tbl, conname`,
  );
  const indexes = await q.query(`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by indexname`);
  const triggers = await q.query(
    `select tgrelid::regclass::text as tbl, tgname from pg_trigger where not tgisinternal order by tbl, tgname`,
  );
  return { columns: columns.rows, constraints: constraints.rows, indexes: indexes.rows, triggers: triggers.rows };
}

async function tables(q: Queryable): Promise<string[]> {
  const r = await q.query<{ t: string }>(`select tablename as t from pg_tables where schemaname = 'public' order by 1`);
  return r.rows.map((row) => row.t);
}

const ALL = (await loadMigrations()).map((m) => m.name);
const schemas = new Map<DriverName, unknown>();

describe("migration files", () => {
  it("are found under the package root (works from src/ and dist/src/) and numbered 001, 002, …", async () => {
    expect(defaultSqlDir()).toMatch(/src[/\\]state[/\\]sql$/);
    expect(ALL.length).toBeGreaterThanOrEqual(3);
    ALL.forEach((name, i) => expect(name.startsWith(String(i + 1).padStart(3, "0") + "_")).toBe(true));
    expect((await readdir(defaultSqlDir())).filter((f) => f.endsWith(".sql"))).toEqual(ALL);
  });
});

describe.each(DRIVERS)("migrate on %s", (driver) => {
  let fx: DriverFixture;
  let db: Db;

  beforeAll(async () => {
    fx = await driverFixture(driver);
    db = await fx.open();
  });
  afterAll(() => fx?.dispose());

  it("reports everything pending on an empty database", async () => {
    expect(await migrationStatus(db)).toEqual({ applied: [], pending: ALL, changed: [], unknown: [] });
  });

  it("applies every migration in order, reporting each", async () => {
    const seen: string[] = [];
    expect(await migrate(db, { onApply: (n) => seen.push(n) })).toEqual(ALL);
    expect(seen).toEqual(ALL);
    expect(await tables(db)).toEqual(EXPECTED_TABLES);
    expect(await migrationStatus(db)).toEqual({ applied: ALL, pending: [], changed: [], unknown: [] });
    schemas.set(driver, await describeSchema(db));
  });

  it("is idempotent: a second run applies nothing", async () => {
    expect(await migrate(db)).toEqual([]);
    expect(await migrationStatus(db)).toMatchObject({ applied: ALL, pending: [] });
  });

  it("releases the migrate lock when done", async () => {
    const lock = await db.tryLock({ kind: "migrate", name: "schema" });
    expect(lock).not.toBeNull();
    await lock!.release();
  });

  describe("with a scratch migrations dir", () => {
    let sfx: DriverFixture;
    let sdb: Db;
    let dir: string;

    beforeAll(async () => {
      await db.close(); // PGlite: one store per process at a time is the point, so be tidy
      sfx = await driverFixture(driver);
      sdb = await sfx.open();
      dir = await mkdtemp(path.join(os.tmpdir(), "btw-sql-"));
    });
    afterAll(async () => {
      await sfx?.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it("a failing migration leaves nothing of itself behind (row and DDL roll back together)", async () => {
      await writeFile(path.join(dir, "001_ok.sql"), "create table ok1 (x int);");
      await writeFile(path.join(dir, "002_bad.sql"), "create table ok2 (x int);\nselect no_such_function();");
      await writeFile(path.join(dir, "003_later.sql"), "create table ok3 (x int);");
      const err = await migrate(sdb, { sqlDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OperationError);
      expect((err as OperationError).code).toBe("migration-failed");
      expect((err as OperationError).message).toMatch(/^migration 002_bad.sql failed: function no_such_function\(\) does not exist$/);
      expect(await migrationStatus(sdb, { sqlDir: dir })).toEqual({
        applied: ["001_ok.sql"],
        pending: ["002_bad.sql", "003_later.sql"],
        changed: [],
        unknown: [],
      });
      expect(await tables(sdb)).toEqual(["btw_migrations", "ok1"]);
    });

    it("resumes after the fix", async () => {
      await writeFile(path.join(dir, "002_bad.sql"), "create table ok2 (x int);");
      expect(await migrate(sdb, { sqlDir: dir })).toEqual(["002_bad.sql", "003_later.sql"]);
      expect(await tables(sdb)).toEqual(["btw_migrations", "ok1", "ok2", "ok3"]);
    });

    it("refuses to run when an applied migration was edited, and says which", async () => {
      await writeFile(path.join(dir, "001_ok.sql"), "create table ok1 (x int, y int);");
      await writeFile(path.join(dir, "004_new.sql"), "create table ok4 (x int);");
      const err = await migrate(sdb, { sqlDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as ConflictError).message).toBe("applied migration(s) changed since they ran: 001_ok.sql");
      expect(await migrationStatus(sdb, { sqlDir: dir })).toMatchObject({ changed: ["001_ok.sql"], pending: ["004_new.sql"] });
      expect(await tables(sdb)).not.toContain("ok4");
    });

    it("lists applied migrations this btw does not know (a newer btw ran them)", async () => {
      await rm(path.join(dir, "003_later.sql"));
      await writeFile(path.join(dir, "001_ok.sql"), "create table ok1 (x int);");
      expect(await migrationStatus(sdb, { sqlDir: dir })).toEqual({
        applied: ["001_ok.sql", "002_bad.sql", "003_later.sql"],
        pending: ["004_new.sql"],
        changed: [],
        unknown: ["003_later.sql"],
      });
    });
  });
});

describe("pg and the embedded server", () => {
  it("end up with the identical schema (columns, constraints, indexes, triggers)", () => {
    expect(schemas.size).toBe(2);
    expect(schemas.get("embedded")).toEqual(schemas.get("pg"));
  });
});

describe("concurrent runners on pg", () => {
  let fx: DriverFixture;

  beforeAll(async () => {
    fx = await driverFixture("pg");
  });
  afterAll(() => fx?.dispose());

  it("two Db handles migrating at once: both succeed, each migration applied exactly once", async () => {
    const [a, b] = await Promise.all([fx.open({ command: "db migrate A" }), fx.open({ command: "db migrate B" })]);
    const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
    expect([...ra, ...rb].sort()).toEqual(ALL);
    // the lock serialises them: one did all the work, the other found nothing to do
    expect([ra.length, rb.length].sort()).toEqual([0, ALL.length]);
    const count = await a.query<{ n: number }>("select count(*)::int as n from btw_migrations");
    expect(count.rows[0]!.n).toBe(ALL.length);
    expect(await tables(b)).toEqual(EXPECTED_TABLES);
    expect(await describeSchema(a)).toEqual(schemas.get("pg"));
  });

  it("without the lock, the row inserted first makes the loser fail cleanly on the key", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "btw-sql-race-"));
    try {
      // the slow statement keeps the winner's transaction open while the loser arrives
      await writeFile(path.join(dir, "900_race.sql"), "select pg_sleep(0.3);\ncreate table race (x int);");
      const [m] = await loadMigrations(dir);
      const [a, b] = await Promise.all([fx.open(), fx.open()]);
      const results = await Promise.all([applyMigration(a, m!), applyMigration(b, m!)]);
      expect(results.sort()).toEqual([false, true]);
      const rows = await a.query("select name from btw_migrations where name = $1", ["900_race.sql"]);
      expect(rows.rowCount).toBe(1);
      expect(await tables(a)).toContain("race");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a runner that cannot get the migrate lock in time says who has it", async () => {
    const [a, b] = await Promise.all([fx.open({ command: "db migrate" }), fx.open()]);
    const held = (await a.tryLock({ kind: "migrate", name: "schema" }))!;
    const err = await migrate(b, { lockTimeoutMs: 200 }).catch((e: unknown) => e);
    await held.release();
    expect(err).toBeInstanceOf(BusyError);
    expect((err as BusyError).message).toMatch(
      new RegExp(`^the state schema migration is locked by pid ${process.pid} \\(btw db migrate\\) since \\S+ \\(waited 0.2 s\\)$`),
    );
  });
});
