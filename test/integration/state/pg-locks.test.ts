import os from "node:os";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusyError } from "../../../src/errors.js";
import { advisoryKey } from "../../../src/state/lock-key.js";
import { DRIVERS, driverFixture, type DriverFixture } from "./drivers.js";

// Advisory locks between separate pg sessions — what two btw processes see, with a database
// URL and on the embedded server alike. (Two Db handles in one process use separate
// connections, just as two processes do.)

describe.each(DRIVERS)("advisory locks on %s", (driver) => {
  let fx: DriverFixture;

  beforeAll(async () => {
    fx = await driverFixture(driver);
  });
  afterAll(() => fx?.dispose());

  it("tryLock: the second handle gets null while the first holds the key, and the key after release", async () => {
    const a = await fx.open({ command: "tenant create acme" });
    const b = await fx.open({ command: "tenant delete acme" });
    const key = { kind: "tenant", name: "acme" } as const;
    const la = await a.tryLock(key);
    expect(la).not.toBeNull();
    expect(await b.tryLock(key)).toBeNull();
    // other keys are independent
    const other = await b.tryLock({ kind: "tenant", name: "beta" });
    expect(other).not.toBeNull();
    await la!.release();
    const lb = await b.tryLock(key);
    expect(lb).not.toBeNull();
    expect(await a.tryLock(key)).toBeNull();
    await lb!.release();
    await other!.release();
  });

  it("the lock lives on a session of its own: pooled queries and transactions do not carry or drop it", async () => {
    const a = await fx.open();
    const b = await fx.open();
    const key = { kind: "server", name: "fsn1-1" } as const;
    const held = (await a.tryLock(key))!;
    // Saturate a's pool; none of those connections may have (or unlock) the lock.
    await Promise.all(
      Array.from({ length: 8 }, () => a.transaction((tx) => tx.query("select pg_advisory_unlock($1::bigint) as released", [advisoryKey(key)]))),
    );
    expect(await b.tryLock(key)).toBeNull();
    await held.release();
  });

  it("lock() times out with BusyError naming the holder's pid, host and command", async () => {
    const a = await fx.open({ command: "tenant create acme --plan pro" });
    const b = await fx.open();
    const key = { kind: "tenant", name: "locked" } as const;
    const held = (await a.tryLock(key))!;
    const started = Date.now();
    const err = await b.lock(key, { timeoutMs: 400 }).catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(390);
    expect(waited).toBeLessThan(3000);
    expect(err).toBeInstanceOf(BusyError);
    const busy = err as BusyError;
    expect(busy.exitCode).toBe(75);
    expect(busy.message).toMatch(
      new RegExp(`^tenant 'locked' is locked by pid ${process.pid} \\(btw tenant create acme --plan pro\\) since \\S+ \\(waited 0.4 s\\)$`),
    );
    expect(busy.hint).toMatch(/retry when it has finished/);
    expect(busy.details).toMatchObject({ lock: "tenant:locked", holder: { pid: process.pid, host: os.hostname(), command: "tenant create acme --plan pro" } });
    await held.release();
  });

  it("names a holder on another host by host", async () => {
    const a = await fx.open();
    const key = { kind: "bulk", name: "backup-all" } as const;
    // A foreign btw: same application_name convention, different host.
    const foreign = new pg.Client({ connectionString: fx.connectionString, application_name: "btw:4242@ops-cron:backup all" });
    await foreign.connect();
    try {
      await foreign.query("select pg_advisory_lock($1::bigint)", [advisoryKey(key)]);
      const err = await a.lock(key, { timeoutMs: 100 }).catch((e: unknown) => e);
      expect((err as BusyError).message).toMatch(/^bulk operation 'backup-all' is locked by pid 4242 on host ops-cron \(btw backup all\) since \S+ \(waited 0.1 s\)$/);
    } finally {
      await foreign.end();
    }
    // the foreign session ended, so the lock is free
    const l = await a.lock(key, { timeoutMs: 1000 });
    await l.release();
  });

  it("names a non-btw session by its backend pid and application", async () => {
    const a = await fx.open();
    const key = { kind: "server", name: "psql-held" } as const;
    const psql = new pg.Client({ connectionString: fx.connectionString, application_name: "psql" });
    await psql.connect();
    try {
      const backend = (await psql.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
      await psql.query("select pg_advisory_lock($1::bigint)", [advisoryKey(key)]);
      const err = await a.lock(key, { timeoutMs: 0 }).catch((e: unknown) => e);
      expect((err as BusyError).message).toMatch(new RegExp(`^server 'psql-held' is locked by PostgreSQL session pid ${backend} \\(application 'psql'\\) since \\S+$`));
    } finally {
      await psql.end();
    }
  });

  it("lock() waits and gets the key when the other handle releases it within the timeout", async () => {
    const a = await fx.open();
    const b = await fx.open();
    const key = { kind: "tenant", name: "handover" } as const;
    const held = (await a.tryLock(key))!;
    setTimeout(() => void held.release(), 300);
    const started = Date.now();
    const got = await b.lock(key, { timeoutMs: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await got.release();
  });

  it("closing a Db frees its locks (a crashed btw's session ends the same way)", async () => {
    const a = await fx.open();
    const b = await fx.open();
    const key = { kind: "tenant", name: "closed" } as const;
    const held = (await a.tryLock(key))!;
    await a.close();
    const got = await b.tryLock(key);
    expect(got).not.toBeNull();
    await held.release(); // after close: a no-op, and must not free b's lock
    expect(await (await fx.open()).tryLock(key)).toBeNull();
    await got!.release();
  });

  it("a lost lock session drops its locks and the Db opens a new one on the next tryLock", async () => {
    const a = await fx.open({ command: "doomed" });
    const b = await fx.open();
    const key = { kind: "tenant", name: "lost" } as const;
    const held = (await a.tryLock(key))!;
    // The server kills a's lock session (as a restart or network cut would).
    await b.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name like $1 and pid <> pg_backend_pid()", [
      `btw:${process.pid}@%:doomed`,
    ]);
    const got = await b.lock(key, { timeoutMs: 5000 });
    await held.release(); // no-op: the server already dropped it; must not release b's
    expect(await a.tryLock(key)).toBeNull();
    await got.release();
    const again = await a.lock(key, { timeoutMs: 5000 });
    await again.release();
  });
});
