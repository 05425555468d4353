import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/package-root.js";
import { openDb } from "../../../src/state/db.js";
import { storeLayout } from "../../../src/state/embedded/layout.js";
import { readServerStatus, stopServer } from "../../../src/state/embedded/server.js";
import { migrate } from "../../../src/state/migrate.js";
import { openPgliteDb } from "../../../src/state/pglite-db.js";
import { freshStoreDir } from "./drivers.js";

// The embedded state server with real processes: started on demand, one server for
// concurrent starts, recovered after kill -9, stopped, advisory locks across processes, and
// a PGlite store (btw ≤ 0.1) converted by the first open.

const SCRIPT = path.join(packageRoot(), "test", "integration", "state", "fixtures", "embedded-process.ts");
const dirs: string[] = [];

async function newStore(): Promise<string> {
  const home = await mkdtemp(path.join(os.tmpdir(), "btw-embedded-"));
  dirs.push(home);
  return path.join(home, "state");
}

function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, ...args], { cwd: packageRoot() });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

const readyCount = (dataDir: string) =>
  (readFileSync(storeLayout(dataDir).log, "utf8").match(/database system is ready to accept connections/g) ?? []).length;

afterEach(async () => {
  for (const d of dirs) await stopServer(storeLayout(path.join(d, "state"))).catch(() => {});
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("embedded state server", () => {
  it("starts on demand, under an unprivileged account when root, leaving the store dir 0700", async () => {
    const dir = await newStore();
    expect(readServerStatus(storeLayout(dir)).running).toBe(false);
    const db = await openDb({ dataDir: dir });
    try {
      expect(db.driver).toBe("embedded");
      const st = readServerStatus(storeLayout(dir));
      expect(st).toMatchObject({ running: true, state: "ready" });
      expect(existsSync(st.socket)).toBe(true);
      const who = await db.query<{ u: string }>("select current_user as u");
      expect(who.rows[0]!.u).toBe("postgres");
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      if (process.getuid?.() === 0) expect(statSync(storeLayout(dir).pgdata).uid).not.toBe(0);
    } finally {
      await db.close();
    }
    // the server outlives the command that started it
    expect(readServerStatus(storeLayout(dir)).running).toBe(true);
  });

  it("two processes opening a stopped store at once start exactly one server", async () => {
    const dir = await newStore();
    const [a, b] = await Promise.all([run("open", dir), run("open", dir)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const pa = JSON.parse(a.stdout) as { serverPid: number; backendPid: number };
    const pb = JSON.parse(b.stdout) as { serverPid: number; backendPid: number };
    expect(pa.serverPid).toBe(pb.serverPid);
    expect(pa.backendPid).not.toBe(pb.backendPid);
    expect(readyCount(dir)).toBe(1);
  });

  it("a server killed with -9 is replaced by the next open (stale postmaster.pid)", async () => {
    const dir = await newStore();
    const first = JSON.parse((await run("open", dir)).stdout) as { serverPid: number };
    process.kill(first.serverPid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(path.join(storeLayout(dir).pgdata, "postmaster.pid"))).toBe(true); // left behind
    const again = await run("open", dir);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as { serverPid: number };
    expect(second.serverPid).not.toBe(first.serverPid);
    expect(readServerStatus(storeLayout(dir)).running).toBe(true);
  });

  it("a postmaster.pid naming a live process that is not this store's server (a reused pid, even another store's postgres) is stale", async () => {
    const [dir, other] = [await newStore(), await newStore()];
    await (await openDb({ dataDir: dir })).close();
    await stopServer(storeLayout(dir));
    await (await openDb({ dataDir: other })).close();
    const squatter = readServerStatus(storeLayout(other)).pid!;
    const pidFile = path.join(storeLayout(dir).pgdata, "postmaster.pid");
    writeFileSync(pidFile, `${squatter}\n${storeLayout(dir).pgdata}\n${Math.floor(Date.now() / 1000)}\n5432\n\n\n  0 0\nready   \n`);
    expect(readServerStatus(storeLayout(dir))).toMatchObject({ running: false, alive: false });
    const db = await openDb({ dataDir: dir });
    await db.close();
    expect(readServerStatus(storeLayout(dir)).pid).not.toBe(squatter);
    expect(readServerStatus(storeLayout(other)).running).toBe(true); // the other store's server is untouched
  });

  it("stopServer stops it; the next open starts it again", async () => {
    const dir = await newStore();
    (await openDb({ dataDir: dir })).close();
    const pid = readServerStatus(storeLayout(dir)).pid!;
    expect(await stopServer(storeLayout(dir))).toEqual({ wasRunning: true, pid });
    expect(readServerStatus(storeLayout(dir)).alive).toBe(false);
    expect(await stopServer(storeLayout(dir))).toMatchObject({ wasRunning: false });
    const db = await openDb({ dataDir: dir });
    await db.close();
    expect(readServerStatus(storeLayout(dir)).pid).not.toBe(pid);
  });

  it("the idle watcher keeps a server in use running and stops it once nobody uses it", async () => {
    const dir = await newStore();
    const prev = process.env.BTW_DB_IDLE_TIMEOUT;
    process.env.BTW_DB_IDLE_TIMEOUT = "1";
    try {
      const db = await openDb({ dataDir: dir });
      await db.query("select 1");
      await new Promise((r) => setTimeout(r, 3000)); // three idle periods, with a client connected
      expect(readServerStatus(storeLayout(dir)).running).toBe(true);
      await db.query("select 1");
      await db.close();
    } finally {
      if (prev === undefined) delete process.env.BTW_DB_IDLE_TIMEOUT;
      else process.env.BTW_DB_IDLE_TIMEOUT = prev;
    }
    const deadline = Date.now() + 20_000;
    while (readServerStatus(storeLayout(dir)).alive && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(readServerStatus(storeLayout(dir)).alive).toBe(false);
  });

  it("processes taking different tenant locks both succeed; the same lock: exactly one exit 75", async () => {
    const dir = await newStore();
    await (await openDb({ dataDir: dir })).close();
    const different = await Promise.all([run("lock", dir, "acme", "1500"), run("lock", dir, "beta", "1500")]);
    expect(different.map((r) => r.code)).toEqual([0, 0]);
    const same = await Promise.all([run("lock", dir, "acme", "3000"), run("lock", dir, "acme", "3000")]);
    expect(same.map((r) => r.code).sort()).toEqual([0, 75]);
    const loser = same.find((r) => r.code === 75)!;
    expect(loser.stdout).toMatch(/tenant acme|acme/);
    expect(loser.stdout).toMatch(/btw lock acme/); // the holder is named, from application_name
  });
});

describe("a PGlite store made by btw ≤ 0.1", () => {
  it("is converted by the first open: rows, bytea, jsonb and sequences survive; the old dir is kept", async () => {
    const dir = await newStore();
    await freshStoreDir(dir);
    const old = await openPgliteDb({ dataDir: dir, lockTimeoutMs: 0 });
    await migrate(old);
    await old.query(`insert into servers (name, host, capacity, status) values ('s1', '192.0.2.1', 10, 'active'), ('s2', '192.0.2.2', 10, 'active')`);
    await old.query(
      `insert into tenants (slug, plan, weight, server_id, subnet, timezone, status)
       select 'tenant-' || i, 'pro', 2, 1, ('10.220.' || i || '.0/26')::cidr, 'Europe/Paris', 'active' from generate_series(1, 25) i`,
    );
    await old.query(`insert into tenant_secrets (tenant_id, name, key_id, ciphertext) values (3, 'PG_PASSWORD', 'k1', $1)`, [Buffer.from([0, 1, 2, 255])]);
    await old.query(`insert into audit_log (os_user, host, action, target, details) values ('me', 'h', 'tenant.create', 'tenant-1', '{"plan":"pro","n":[1,2]}')`);
    const before = (await old.query<{ n: number }>("select count(*)::int as n from tenants")).rows[0]!.n;
    await old.close();

    const db = await openDb({ dataDir: dir });
    try {
      expect(db.driver).toBe("embedded");
      expect((await db.query<{ n: number }>("select count(*)::int as n from tenants")).rows[0]!.n).toBe(before);
      const secret = await db.query<{ c: Buffer }>("select ciphertext as c from tenant_secrets where name = 'PG_PASSWORD'");
      expect([...secret.rows[0]!.c]).toEqual([0, 1, 2, 255]);
      const audit = await db.query<{ d: unknown }>("select details as d from audit_log where action = 'tenant.create'");
      expect(audit.rows[0]!.d).toEqual({ plan: "pro", n: [1, 2] });
      // identity sequences continue after the copied ids
      const next = await db.query<{ id: number }>(`insert into servers (name, host, capacity, status) values ('s3', '192.0.2.3', 10, 'active') returning id`);
      expect(next.rows[0]!.id).toBe(3);
      const { migrationStatus } = await import("../../../src/state/migrate.js");
      expect((await migrationStatus(db)).pending).toEqual([]);
    } finally {
      await db.close();
    }
    const kept = readdirSync(path.dirname(dir)).filter((n) => n.startsWith("state.pglite-"));
    expect(kept).toHaveLength(1);
    expect(existsSync(path.join(path.dirname(dir), kept[0]!, "PG_VERSION"))).toBe(true);
    expect(existsSync(storeLayout(dir).importMarker)).toBe(false);
    // a second open does not copy again
    const again = await openDb({ dataDir: dir });
    expect((await again.query<{ n: number }>("select count(*)::int as n from servers")).rows[0]!.n).toBe(3);
    await again.close();
  });
});
