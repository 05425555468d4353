// Issue 22 item 16: a tenant's backup is not one snapshot — the dump, then n8n's files while
// n8n serves, and a queue-mode tenant's Redis not at all. The real backup flow (state rows,
// locks, bundle, age encryption, directory storage) runs against the real PostgreSQL state;
// the containers are stand-ins at the flow's Docker boundary (src/remote/backup-exec.ts),
// which record when each part was taken. The object written is read back as a restore reads
// it, and `backup show` prints what it holds. The lab e2e (test/e2e/backup.test.ts, "the
// manifest records how each part was taken") checks the same on real containers.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Ctx } from "../../../src/cli/context.js";
import showBackup from "../../../src/commands/backup/show.js";
import type { BackupManifest } from "../../../src/core/backup/manifest.js";
import { backupTenant, type ServerSession } from "../../../src/ops/backup/tenant.js";
import { readBackupObject } from "../../../src/ops/backup/restore-data.js";
import { storeSecrets } from "../../../src/ops/tenant-secrets.js";
import { DirStorage } from "../../../src/remote/backup-dir.js";
import { getBackup } from "../../../src/state/backups.js";
import { openDb, type Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { insertServer, type ServerRow } from "../../../src/state/servers.js";
import { insertTenant, type TenantRow } from "../../../src/state/tenants.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

const engine = vi.hoisted(() => {
  /** what happened at the Docker boundary, in order */
  const events: string[] = [];
  const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** a producer that yields its bytes over ~50 ms and logs when it is done */
  const slow = (bytes: string, done: string) =>
    (async function* () {
      for (const c of [bytes.slice(0, 4), bytes.slice(4)]) {
        await delay(25);
        yield Buffer.from(c);
      }
      events.push(done);
    })();
  return { events, slow };
});

vi.mock("../../../src/remote/backup-exec.js", async (importOriginal) => {
  const { Readable } = await import("node:stream");
  return {
    ...(await importOriginal<typeof import("../../../src/remote/backup-exec.js")>()),
    allContainerFacts: async () => {
      const facts = new Map<string, { image: string; imageId: string; running: boolean }>();
      for (const slug of ["reg", "que"]) {
        for (const s of ["postgres", "n8n", "redis", ...(slug === "que" ? ["worker"] : [])]) facts.set(`btw-${slug}-${s}`, { image: `lab/${s}`, imageId: `sha256:${s}`, running: true });
      }
      return facts;
    },
    containerFacts: async () => ({ image: "lab/n8n", running: true }),
    execText: async (_d: unknown, container: string, cmd: string[]) => {
      if (cmd[0] === "psql") return "170004 2 1 5\n";
      if (cmd[0] === "redis-cli") {
        engine.events.push(`queue counted in ${container}`);
        return "2\n1\n0\n";
      }
      return JSON.stringify({ version: "1.99.0" });
    },
    execStream: async (_d: unknown, container: string, cmd: string[]) => {
      engine.events.push(`${cmd[0]} started in ${container}`);
      return { stdout: Readable.from(engine.slow("PGDMP-bytes", "pg_dump ended")), finished: async () => {} };
    },
    archiveOut: async (_d: unknown, container: string, path: string) => {
      engine.events.push(`archive of ${path} started in ${container}`);
      return Readable.from(engine.slow("tar-of-n8n-files", "archive ended"));
    },
  };
});

let tdb: TestDatabase;
let home: string;
let ctx: Ctx;
let db: Db;
let server: ServerRow;
let storage: DirStorage;
const session = () => ({ server, host: {}, docker: {} }) as unknown as ServerSession;

async function tenant(slug: string, plan: string): Promise<TenantRow> {
  const t = await insertTenant(db, { slug, plan, serverId: server.id, subnet: `10.231.${slug === "reg" ? 0 : 1}.0/26`, status: "active" });
  await storeSecrets(db, await ctx.master(), t.id, { POSTGRES_PASSWORD: "pg-secret-0123456789abcdef", REDIS_PASSWORD: "redis-secret-0123456789abcd", N8N_ENCRYPTION_KEY: "enc-key-0123456789abcdefghijklmn" });
  return t;
}

function ctxFor(json: boolean): { ctx: Ctx; stdout: () => string } {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString()));
  const io = {
    stdout: out,
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: { BTW_HOME: home, BTW_DATABASE_URL: tdb.url, BTW_MASTER_KEY: masterKey },
    cwd: home,
    stdinIsTTY: false,
    stderrIsTTY: false,
  };
  return { ctx: new Ctx(io, { json, verbose: false, color: false, nonInteractive: true }, "btw backup"), stdout: () => text };
}

const masterKey = randomBytes(32).toString("hex");

beforeAll(async () => {
  tdb = await createTestDatabase();
  const setup = await openDb({ url: tdb.url, dataDir: "unused" });
  await migrate(setup);
  await setup.close();
  home = mkdtempSync(join(tmpdir(), "btw-backup-consistency-"));
  writeFileSync(join(home, "btw.yml"), "domain: example.com\n");
  ctx = ctxFor(false).ctx;
  await ctx.prepare();
  db = await ctx.db();
  server = await insertServer(db, { name: "lab-a", host: "192.0.2.1", capacity: 100, status: "active" });
  storage = new DirStorage(join(home, "backups"));
}, 120_000);

afterAll(async () => {
  await ctx?.close();
  await tdb?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

beforeEach(() => {
  engine.events.length = 0;
});

async function readBack(id: string, slug: string): Promise<BackupManifest> {
  return readBackupObject(storage, `${slug}/${id}.btwb`, await ctx.master(), id, () => null);
}

describe("a backup records how each part was taken", () => {
  it("regular mode: the dump ends before n8n's files are read; the manifest (object and state) says when, live, and that Redis is not in it", async () => {
    const t = await tenant("reg", "starter");
    const r = await backupTenant(ctx, db, storage, session(), t);
    expect(engine.events).toEqual([
      "pg_dump started in btw-reg-postgres",
      "pg_dump ended",
      "archive of /home/node/.n8n started in btw-reg-n8n",
      "archive ended",
    ]);
    const m = await readBack(r.id, "reg");
    const c = m.consistency!;
    expect(c).toMatchObject({
      database: { part: "postgres.dump", method: "pg_dump", n8nRunning: true },
      n8nData: { part: "n8n-data.tar", method: "archived live after the dump", binaryData: "filesystem" },
      redis: { included: false, executionsMode: "regular", queueAtSnapshot: null },
    });
    const times = [c.database.snapshotAt, c.database.finishedAt, c.n8nData.startedAt, c.n8nData.finishedAt].map((s) => Date.parse(s));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(40); // the dump's ~50 ms, measured
    expect(c.mayMiss).toContainEqual(expect.stringMatching(/^binary data of executions n8n pruned while the files were archived/));
    // the state keeps the same record (what `backup show` reads without the storage)
    expect((await getBackup(db, r.id))!.manifest.consistency).toEqual(c);
  });

  it("queue mode: the job queue is counted as the dump begins and recorded as what a restore leaves unrun", async () => {
    const t = await tenant("que", "business");
    const r = await backupTenant(ctx, db, storage, session(), t);
    expect(engine.events.slice(0, 3)).toEqual(["queue counted in btw-que-redis", "pg_dump started in btw-que-postgres", "pg_dump ended"]);
    const c = (await readBack(r.id, "que")).consistency!;
    expect(c.redis).toEqual({ included: false, executionsMode: "queue", queueAtSnapshot: { waiting: 2, active: 1, delayed: 0 } });
    expect(c.n8nData.binaryData).toBe("database");
    expect(c.mayMiss).toContainEqual(expect.stringMatching(/^2 waiting, 1 active and 0 delayed job\(s\) queued in Redis at the snapshot/));
  });

  it("`backup show <id>` prints the parts and how each was taken; --json carries the record", async () => {
    const id = (await db.query<{ id: string }>("select id from backups where tenant_slug = 'que' and status = 'done'")).rows[0]!.id;
    const human = ctxFor(false);
    await human.ctx.prepare();
    try {
      await showBackup(human.ctx, [id], {});
    } finally {
      await human.ctx.close();
    }
    const text = human.stdout();
    expect(text).toMatch(new RegExp(`^backup ${id} of que \\(tenant id \\d+\\): done`));
    expect(text).toMatch(/part postgres\.dump: .*\n {2}part n8n-data\.tar: /);
    expect(text).toMatch(/how it was taken:\n {4}postgres\.dump: pg_dump, one snapshot at \S+ \(finished \S+\), n8n serving\n {4}n8n-data\.tar: archived live after the dump/);
    expect(text).toContain("    redis: not included (queue mode: only the job queue, 2 waiting / 1 active / 0 delayed at the snapshot)");
    expect(text).toMatch(/ {4}may miss: 2 waiting, 1 active and 0 delayed job\(s\)/);

    const json = ctxFor(true);
    await json.ctx.prepare();
    try {
      await showBackup(json.ctx, [id], {});
    } finally {
      await json.ctx.close();
    }
    const out = JSON.parse(json.stdout()) as { backup: { manifest: { consistency: unknown; escrow: { sealed?: string } } }; consistency: string[] };
    expect(out.backup.manifest.consistency).toMatchObject({ redis: { queueAtSnapshot: { waiting: 2 } } });
    expect(out.backup.manifest.escrow.sealed).toBeUndefined(); // the public view, as `backup list`
    expect(out.consistency).toContain("redis: not included (queue mode: only the job queue, 2 waiting / 1 active / 0 delayed at the snapshot)");
  });

  it("`backup show` of a backup by an older btw says its record is missing and what it was then", async () => {
    await db.query(`insert into backups (id, tenant_slug, location, status, size_bytes, sha256, manifest) values ('old-20250101T000000Z-abcd', 'old', 'old/x', 'done', 1, $1, '{}')`, ["0".repeat(64)]);
    const human = ctxFor(false);
    await human.ctx.prepare();
    try {
      await showBackup(human.ctx, ["old-20250101T000000Z-abcd"], {});
    } finally {
      await human.ctx.close();
    }
    expect(human.stdout()).toContain("not recorded (a backup of an older btw)");
  });
});
