import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusyError } from "../../../src/errors.js";
import type { Db } from "../../../src/state/db.js";
import { DRIVERS, driverFixture, type DriverFixture } from "./drivers.js";

describe.each(DRIVERS)("Db over %s", (driver) => {
  let fx: DriverFixture;
  let db: Db;

  beforeAll(async () => {
    fx = await driverFixture(driver);
    db = await fx.open();
    await db.query("create table t (id bigint generated always as identity primary key, v text unique, b bytea, j jsonb, at timestamptz default now())");
  });
  afterAll(() => fx?.dispose());

  it("reports its driver", () => {
    expect(db.driver).toBe(driver);
  });

  it("returns the same JS types: int8 number (bigint past 2^53), bytea Buffer, jsonb parsed, timestamptz Date, numeric string", async () => {
    const r = await db.query(
      "select 42::bigint as small, 9007199254740993::bigint as big, $1::bytea as b, $2::jsonb as j, now() as at, 1.5::numeric as n, 7 as i, true as ok, '10.1.2.0/24'::cidr::text as c",
      [Buffer.from([0, 1, 255]), JSON.stringify({ a: [1, "x"] })],
    );
    const row = r.rows[0]!;
    expect(row.small).toBe(42);
    expect(row.big).toBe(9007199254740993n);
    expect(Buffer.isBuffer(row.b)).toBe(true);
    expect([...(row.b as Buffer)]).toEqual([0, 1, 255]);
    expect(row.j).toEqual({ a: [1, "x"] });
    expect(row.at).toBeInstanceOf(Date);
    expect(row.n).toBe("1.5");
    expect(row.i).toBe(7);
    expect(row.ok).toBe(true);
    expect(row.c).toBe("10.1.2.0/24");
  });

  it("rowCount: rows for SELECT, affected rows for DML, 0 for DDL", async () => {
    expect((await db.query("create table rc (x int)")).rowCount).toBe(0);
    expect((await db.query("insert into rc values (1), (2), (3)")).rowCount).toBe(3);
    expect((await db.query("update rc set x = x + 1 where x > $1", [1])).rowCount).toBe(2);
    expect((await db.query("select * from rc")).rowCount).toBe(3);
    expect((await db.query("delete from rc")).rowCount).toBe(3);
  });

  it("runs several statements when there are no parameters and returns the last result", async () => {
    const r = await db.query("create temp table multi (x int); insert into multi values (5); select x from multi");
    expect(r.rows).toEqual([{ x: 5 }]);
  });

  it("commits a transaction", async () => {
    const got = await db.transaction(async (tx) => {
      await tx.query("insert into t (v) values ($1)", ["committed"]);
      return (await tx.query<{ n: number }>("select count(*)::int as n from t where v = $1", ["committed"])).rows[0]!.n;
    });
    expect(got).toBe(1);
    expect((await db.query("select v from t where v = $1", ["committed"])).rowCount).toBe(1);
  });

  it("rolls the whole transaction back when fn throws, and the error comes out", async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("insert into t (v) values ($1)", ["rolled-back"]);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect((await db.query("select v from t where v = $1", ["rolled-back"])).rowCount).toBe(0);
  });

  it("rolls back on a SQL error and stays usable", async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("insert into t (v) values ($1)", ["dup"]);
        await tx.query("insert into t (v) values ($1)", ["dup"]);
      }),
    ).rejects.toMatchObject({ code: "23505", constraint: "t_v_key" });
    expect((await db.query("select v from t where v = $1", ["dup"])).rowCount).toBe(0);
    expect((await db.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
  });

  it("refuses db.query inside its own transaction instead of deadlocking or escaping it", async () => {
    await expect(db.transaction(async () => db.query("select 1"))).rejects.toThrow(/inside db.transaction/);
    await expect(db.transaction(async () => db.transaction(async () => 1))).rejects.toThrow(/inside db.transaction/);
    expect((await db.query("select 1 as one")).rowCount).toBe(1);
  });

  it("tryLock: one holder per key, not re-entrant, free again after release", async () => {
    const key = { kind: "tenant", name: "acme" } as const;
    const a = await db.tryLock(key);
    expect(a).not.toBeNull();
    expect(await db.tryLock(key)).toBeNull();
    const other = await db.tryLock({ kind: "server", name: "acme" });
    expect(other).not.toBeNull();
    await a!.release();
    await a!.release(); // idempotent
    const again = await db.tryLock(key);
    expect(again).not.toBeNull();
    await again!.release();
    await other!.release();
  });

  it("lock() waits for a holder that lets go within the timeout", async () => {
    const key = { kind: "tenant", name: "waits" } as const;
    const first = (await db.tryLock(key))!;
    setTimeout(() => void first.release(), 200);
    const started = Date.now();
    const second = await db.lock(key, { timeoutMs: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await second.release();
  });

  it("lock() times out with BusyError (exit 75)", async () => {
    const key = { kind: "bulk", name: "backup-all" } as const;
    const held = (await db.tryLock(key))!;
    const started = Date.now();
    const err = await db.lock(key, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(err).toBeInstanceOf(BusyError);
    expect((err as BusyError).exitCode).toBe(75);
    expect((err as BusyError).message).toMatch(/^bulk operation 'backup-all' is locked by this btw process itself \(waited 0.3 s\)$/);
    await held.release();
  });
});
