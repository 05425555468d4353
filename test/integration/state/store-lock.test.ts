import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BusyError } from "../../../src/errors.js";
import { packageRoot } from "../../../src/package-root.js";
import type { Db, OpenDbOptions } from "../../../src/state/db.js";
import { openPgliteDb } from "../../../src/state/pglite-db.js";
import { storeLockPath } from "../../../src/state/store-lock.js";
import { freshStoreDir } from "./drivers.js";

// A PGlite store is single-process: btw ≤ 0.1's embedded store, still read (under this lock)
// when the first command converts it. These tests put a real second process on it.

const openDb = (o: OpenDbOptions & { lockTimeoutMs: number }): Promise<Db> => openPgliteDb(o);

const SCRIPT = path.join(packageRoot(), "test", "integration", "state", "fixtures", "store-process.ts");

interface Proc {
  child: ChildProcessWithoutNullStreams;
  /** resolves with the first stdout line */
  firstLine: Promise<string>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const procs: ChildProcessWithoutNullStreams[] = [];

function run(...args: string[]): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, ...args], { cwd: packageRoot() });
  procs.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: string) => {
      stdout += d;
      const nl = stdout.indexOf("\n");
      if (nl >= 0) resolve(stdout.slice(0, nl));
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before a line:\n${stdout}${stderr}`)));
  });
  firstLine.catch(() => {});
  child.stderr.on("data", (d: string) => (stderr += d));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, firstLine, exit };
}

/** A process holding the store until we close its stdin. */
async function holder(dataDir: string, command: string): Promise<Proc> {
  const p = run("hold", dataDir, command);
  expect(await p.firstLine).toBe("ready");
  return p;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  const pid = child.pid!;
  await new Promise((r) => child.once("exit", r));
  return pid;
}

describe("embedded store lock (PGlite) across processes", () => {
  let tmp: string;
  let n = 0;
  const dbs: Db[] = [];
  const newStore = async () => freshStoreDir(path.join(tmp, `store-${++n}`));

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "btw-store-lock-"));
  });
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close().catch(() => {});
    for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it("a second process waits for lockTimeoutMs, then gets BusyError naming the holder", async () => {
    const dir = await newStore();
    const h = await holder(dir, "tenant create acme");
    const started = Date.now();
    const err = await openDb({ dataDir: dir, lockTimeoutMs: 600 }).catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(BusyError);
    const busy = err as BusyError;
    expect(busy.exitCode).toBe(75);
    expect(busy.message).toMatch(
      new RegExp(`^the embedded state store is in use by pid ${h.child.pid} \\(btw tenant create acme\\) since \\d{4}-\\d\\d-\\d\\dT\\S+Z \\(waited 0.6 s\\)$`),
    );
    expect(busy.hint).toMatch(/wait for that command to finish.*or configure a PostgreSQL database URL/);
    expect(busy.hint).not.toMatch(/delete/); // a live local holder: never suggest removing its lock
    expect(busy.details).toMatchObject({ lockFile: storeLockPath(dir), holder: { pid: h.child.pid, host: os.hostname() } });
    expect(waited).toBeGreaterThanOrEqual(590);
    expect(waited).toBeLessThan(5000);
    h.child.stdin.end();
    expect((await h.exit).code).toBe(0);
  });

  it("as a process of its own, the contender exits 75 (the CLI's exit code for busy)", async () => {
    const dir = await newStore();
    const h = await holder(dir, "backup all");
    const contender = await run("open", dir, "300").exit;
    expect(contender.code).toBe(75);
    expect(JSON.parse(contender.stdout)).toMatchObject({
      code: "busy",
      exitCode: 75,
      message: expect.stringMatching(new RegExp(`^the embedded state store is in use by pid ${h.child.pid} \\(btw backup all\\)`)),
    });
    h.child.stdin.end();
    await h.exit;
  });

  it("a waiting process gets in as soon as the holder finishes within the timeout", async () => {
    const dir = await newStore();
    const h = await holder(dir, "tenant create slow");
    setTimeout(() => h.child.stdin.end(), 500);
    const started = Date.now();
    const db = await openDb({ dataDir: dir, lockTimeoutMs: 20_000, command: "tenant list" });
    dbs.push(db);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect((await db.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    expect(JSON.parse(await readFile(storeLockPath(dir), "utf8"))).toMatchObject({ pid: process.pid, command: "tenant list" });
    expect((await h.exit).code).toBe(0);
  });

  it("a holder killed with SIGKILL leaves a stale lock that the next process takes over (and the store recovers)", async () => {
    const dir = await newStore();
    const h = await holder(dir, "tenant create crash");
    h.child.kill("SIGKILL");
    await h.exit;
    expect(JSON.parse(await readFile(storeLockPath(dir), "utf8"))).toMatchObject({ pid: h.child.pid });
    // lockTimeoutMs 0: getting in at all proves the takeover (no waiting for a timeout)
    const db = await openDb({ dataDir: dir, lockTimeoutMs: 0, command: "doctor" });
    dbs.push(db);
    expect(JSON.parse(await readFile(storeLockPath(dir), "utf8"))).toMatchObject({ pid: process.pid, command: "doctor" });
    expect((await db.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
  });

  it("takes over a lock file naming a dead pid on this host, and removes its own on close", async () => {
    const dir = await newStore();
    const file = storeLockPath(dir);
    const pid = await deadPid();
    await writeFile(file, JSON.stringify({ pid, host: os.hostname(), command: "tenant create ghost", since: "2026-01-01T00:00:00.000Z" }));
    const db = await openDb({ dataDir: dir, lockTimeoutMs: 0 });
    expect(JSON.parse(await readFile(file, "utf8")).pid).toBe(process.pid);
    await db.close();
    expect(existsSync(file)).toBe(false);
    await db.close(); // idempotent
  });

  it("never takes over a lock from another host; the hint says which file to delete if it is stale", async () => {
    const dir = await newStore();
    const file = storeLockPath(dir);
    await writeFile(file, JSON.stringify({ pid: 1, host: "ops-laptop", command: "tenant delete acme", since: "2026-01-01T00:00:00.000Z" }));
    const err = await openDb({ dataDir: dir, lockTimeoutMs: 200 }).catch((e: unknown) => e);
    expect((err as BusyError).message).toBe(
      "the embedded state store is in use by pid 1 on host ops-laptop (btw tenant delete acme) since 2026-01-01T00:00:00.000Z (waited 0.2 s)",
    );
    expect((err as BusyError).hint).toContain(`delete ${file}`);
    expect(JSON.parse(await readFile(file, "utf8")).host).toBe("ops-laptop");
  });

  it("the same process cannot open a store twice (PGlite would corrupt it)", async () => {
    const dir = await newStore();
    const db = await openDb({ dataDir: dir, lockTimeoutMs: 0, command: "first" });
    dbs.push(db);
    const err = await openDb({ dataDir: dir, lockTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusyError);
    expect((err as BusyError).message).toMatch(new RegExp(`in use by pid ${process.pid} \\(btw first\\)`));
    await db.close();
    const again = await openDb({ dataDir: dir, lockTimeoutMs: 0 });
    dbs.push(again);
  });

  it("two processes racing for a stale lock: exactly one gets in, the other reports busy", async () => {
    const dir = await newStore();
    await writeFile(storeLockPath(dir), JSON.stringify({ pid: await deadPid(), host: os.hostname(), since: "2026-01-01T00:00:00.000Z" }));
    // hold mode keeps the winner in, so the loser must see a live holder, not a stale file
    const a = run("hold", dir, "racer");
    const b = run("hold", dir, "racer");
    const outcomes = await Promise.all(
      [a, b].map(async (p) => {
        const line = await Promise.race([p.firstLine.catch(() => null), p.exit.then(() => null)]);
        if (line === "ready") return "in";
        const { code, stdout } = await p.exit;
        return code === 75 && stdout.includes('"busy"') ? "busy" : `unexpected exit ${code}: ${stdout}`;
      }),
    );
    expect(outcomes.sort()).toEqual(["busy", "in"]);
    for (const p of [a, b]) p.child.stdin.end();
    await Promise.all([a.exit, b.exit]);
  });
});
