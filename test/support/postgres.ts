// A real PostgreSQL server on 127.0.0.1 for the integration project. The vitest globalSetup
// (integration-setup.ts) starts one per run and provides its base URL; each test file then
// makes its own database with createTestDatabase() and drops it in afterAll.
//
//   // test file
//   let tdb: TestDatabase;
//   beforeAll(async () => { tdb = await createTestDatabase(); });   // uses inject("pgBaseUrl")
//   afterAll(() => tdb.drop());
//   const db = await openDb({ url: tdb.url, dataDir: "unused" });
//
// Everything (data dir, unix socket, log) lives in one temp dir removed by stop(). As root
// the server runs as the `postgres` (or `nobody`) user — PostgreSQL refuses to run as root.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { launchOnFreePort, stopChild } from "./processes.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** postgres://postgres@127.0.0.1:PORT — no database name; see databaseUrl() */
    pgBaseUrl: string;
  }
}

export interface TestPostgres {
  /** base URL without a database path, e.g. postgres://postgres@127.0.0.1:54321 */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** server log (stderr), for assertion messages */
  log(): string;
  stop(): Promise<void>;
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

interface PgBins {
  initdb: string;
  postgres: string;
}

const SUPERUSER = "postgres";

/** initdb/postgres from PATH (e.g. /usr/local/bin symlinks) or the newest Debian layout. */
export function findPgBins(): PgBins | null {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "postgres"))) {
      return { initdb: path.join(dir, "initdb"), postgres: path.join(dir, "postgres") };
    }
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = path.join(root, v, "bin");
    if (existsSync(path.join(bin, "initdb"))) {
      return { initdb: path.join(bin, "initdb"), postgres: path.join(bin, "postgres") };
    }
  }
  return null;
}

/** Find the server binaries, installing Debian's `postgresql` with apt-get when missing. */
export function ensurePostgresInstalled(): PgBins {
  const found = findPgBins();
  if (found) return found;
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) {
    throw new Error("PostgreSQL server binaries (initdb, postgres) not found; install the 'postgresql' package");
  }
  process.stderr.write("test/support/postgres: initdb missing — installing postgresql with apt-get\n");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", "postgresql"]]) {
    const r = spawnSync("apt-get", args, { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.status}): ${r.stderr.trim()}`);
  }
  const after = findPgBins();
  if (!after) throw new Error("postgresql installed but initdb is still not found under /usr/lib/postgresql");
  return after;
}

/** The unprivileged account to run as when we are root (PostgreSQL refuses uid 0). */
export function runAsAccount(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ["postgres", "nobody"]) {
    const r = spawnSync("id", ["-u", name], { encoding: "utf8" });
    const g = spawnSync("id", ["-g", name], { encoding: "utf8" });
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  throw new Error("running as root but neither a 'postgres' nor a 'nobody' account exists");
}

/** argv prefix that drops to `account` without a shell or PAM (setpriv execs in place). */
export function asAccount(account: { uid: number; gid: number } | null, argv: string[]): [string, string[]] {
  if (!account) return [argv[0]!, argv.slice(1)];
  return [
    "setpriv",
    [`--reuid=${account.uid}`, `--regid=${account.gid}`, "--clear-groups", "--", ...argv],
  ];
}


async function canQuery(url: string): Promise<boolean> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: `${url}/postgres`, connectionTimeoutMillis: 1000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bins = ensurePostgresInstalled();
  const account = runAsAccount();
  const dir = await mkdtemp(path.join(os.tmpdir(), "btw-pg-"));
  const dataDir = path.join(dir, "data");
  const sockDir = path.join(dir, "sock");
  await mkdir(sockDir);
  if (account) {
    await chown(dir, account.uid, account.gid);
    await chown(sockDir, account.uid, account.gid);
  }

  // --no-locale: byte-order collation, like PGlite, so ORDER BY text agrees across drivers.
  const [initCmd, initArgs] = asAccount(account, [
    bins.initdb,
    "-D",
    dataDir,
    "-U",
    SUPERUSER,
    "--auth=trust",
    "--no-locale",
    "--encoding=UTF8",
    "--no-sync",
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: "utf8", cwd: dir });
  if (init.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (exit ${init.status}): ${init.stderr.trim()}`);
  }

  let child: ChildProcess | undefined;
  let logText = "";
  let port = 0;

  const launch = async (): Promise<void> => {
    // Durability is irrelevant for a throw-away server; these make DDL-heavy tests fast.
    const [cmd, args] = asAccount(account, [
      bins.postgres,
      "-D",
      dataDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${sockDir}`,
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=200",
      "-c",
      "shared_buffers=32MB",
    ]);
    const proc = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], cwd: dir });
    child = proc;
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (d: string) => {
      logText = (logText + d).slice(-20_000);
    });
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const early = await Promise.race([exited, new Promise<"running">((r) => setTimeout(() => r("running"), 100))]);
      if (early !== "running") throw new Error(`postgres exited with ${early} on start:\n${logText}`);
      if (await canQuery(`postgres://${SUPERUSER}@127.0.0.1:${port}`)) return;
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`postgres did not accept connections on 127.0.0.1:${port} within 30 s:\n${logText}`);
      }
    }
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    await stopChild(proc, "SIGINT", 10_000);
  };

  port = await launchOnFreePort(
    async (p) => {
      port = p;
      await launch();
    },
    halt,
    () => rm(dir, { recursive: true, force: true }),
  );

  return {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}`,
    port,
    dir,
    log: () => logText,
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function databaseUrl(baseUrl: string, name: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${name}`;
}

async function adminQuery(baseUrl: string, sql: string): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: databaseUrl(baseUrl, "postgres") });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A fresh, empty database on the run's server (from inject("pgBaseUrl") unless given).
 * Call drop() in afterAll; WITH (FORCE) ends connections a failed test left open.
 */
export async function createTestDatabase(baseUrl?: string): Promise<TestDatabase> {
  const base = baseUrl ?? (await import("vitest")).inject("pgBaseUrl");
  if (!base) throw new Error("no pgBaseUrl: run this test in the 'integration' vitest project");
  const name = `btw_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(base, `create database ${name}`);
  let dropped = false;
  return {
    name,
    url: databaseUrl(base, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(base, `drop database if exists ${name} with (force)`);
    },
  };
}
