// The two drivers every state test runs against: a database on the run's real PostgreSQL
// (one per test file, dropped afterwards) and the embedded default, a PostgreSQL server
// started on demand in a fresh temp store dir (stopped by dispose()).

import { existsSync } from "node:fs";
import { cp, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openDb, type Db, type OpenDbOptions } from "../../../src/state/db.js";
import { socketUrl, storeLayout } from "../../../src/state/embedded/layout.js";
import { stopServer } from "../../../src/state/embedded/server.js";
import { createTestDatabase, type TestDatabase } from "../../support/postgres.js";

export type DriverName = "pg" | "embedded";
export const DRIVERS: DriverName[] = ["pg", "embedded"];

export interface DriverFixture {
  readonly name: DriverName;
  /** pg: the test database URL */
  readonly url: string | undefined;
  /** a URL for a raw pg client on the same database (embedded: its Unix socket) */
  readonly connectionString: string;
  /** the embedded store dir (a fresh temp dir; also set for pg, unused there) */
  readonly dataDir: string;
  /** a new Db on this fixture's database */
  open(opts?: Partial<OpenDbOptions>): Promise<Db>;
  dispose(): Promise<void>;
}

let template: Promise<string> | undefined;

/**
 * A PGlite store as btw ≤ 0.1 made it (initdb in WASM: 3–10 s on a busy 2-core machine, so
 * the first caller makes a template under the temp dir, keyed by PGlite version, and every
 * store is a copy). For the conversion tests and pglite-db.ts's own tests.
 */
function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const { readFileSync } = await import("node:fs");
    const { packageRoot } = await import("../../../src/package-root.js");
    const pkg = path.join(packageRoot(), "node_modules", "@electric-sql", "pglite", "package.json");
    const version = (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
    const dir = path.join(os.tmpdir(), `btw-test-pglite-template-${version}`);
    if (existsSync(path.join(dir, ".ready"))) return dir;
    // Build beside it and rename into place, so a concurrent test file never copies a half-made one.
    const building = await mkdtemp(`${dir}.building-`);
    const { PGlite } = await import("@electric-sql/pglite");
    const db = await PGlite.create(building);
    await db.close();
    await writeFile(path.join(building, ".ready"), "");
    try {
      await rename(building, dir);
    } catch {
      await rm(building, { recursive: true, force: true }); // another worker won the race
    }
    return dir;
  })();
  return template;
}

/** An initialised, empty PGlite store at `dir` (copied from the template). */
export async function freshStoreDir(dir: string): Promise<string> {
  await cp(await pgliteTemplate(), dir, { recursive: true });
  await rm(path.join(dir, ".ready"), { force: true });
  return dir;
}

export async function driverFixture(name: DriverName): Promise<DriverFixture> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "btw-state-"));
  const dataDir = path.join(tmp, "state");
  let tdb: TestDatabase | undefined;
  if (name === "pg") tdb = await createTestDatabase();
  const url = tdb?.url;
  const opened: Db[] = [];
  return {
    name,
    url,
    connectionString: url ?? socketUrl(storeLayout(dataDir)),
    dataDir,
    async open(opts = {}) {
      const db = await openDb({ ...(url ? { url } : {}), dataDir, command: "test", ...opts });
      opened.push(db);
      return db;
    },
    async dispose() {
      for (const db of opened) await db.close().catch(() => {});
      await tdb?.drop();
      if (name === "embedded") await stopServer(storeLayout(dataDir)).catch(() => {});
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
