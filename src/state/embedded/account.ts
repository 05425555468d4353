// PostgreSQL refuses to run as root. When btw runs as root (servers, CI, cron), the embedded
// server runs as an unprivileged account instead: BTW_STATE_USER, else `postgres`, else a
// system account `btw-postgres` created with useradd.
//
// Its data directory stays inside $BTW_HOME, which stays 0700: the server is started with
// its working directory set to the data directory *before* it drops to that account (libuv
// chdirs, then setgid/setuid, then execs) and is told `-D /proc/self/cwd`. It reaches its
// own files through that handle only; it cannot walk $BTW_HOME, so master.key and the rest
// of the home stay out of its reach, and nothing else had to be opened up.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { ConfigError } from "../../errors.js";

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

const CREATED_ACCOUNT = "btw-postgres";

/** null when not root: the server runs as the current user. */
export function serverAccount(env: NodeJS.ProcessEnv = process.env): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  const wanted = env.BTW_STATE_USER;
  for (const name of wanted ? [wanted] : ["postgres", CREATED_ACCOUNT]) {
    const found = lookupAccount(name);
    if (found) return found;
  }
  if (wanted) {
    throw new ConfigError(`BTW_STATE_USER=${wanted}: no such account`, {
      code: "state-account-missing",
      hint: "name an existing unprivileged account, or unset BTW_STATE_USER to let btw use postgres / btw-postgres",
    });
  }
  const r = spawnSync(
    "useradd",
    ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", CREATED_ACCOUNT],
    { encoding: "utf8" },
  );
  const made = lookupAccount(CREATED_ACCOUNT);
  if (made) return made;
  throw new ConfigError(`running as root, and no unprivileged account to run the embedded PostgreSQL as`, {
    code: "state-account-missing",
    hint: `create one (useradd --system ${CREATED_ACCOUNT}) or set BTW_STATE_USER to an existing one${r.stderr ? ` (useradd: ${r.stderr.trim()})` : ""}`,
  });
}

function lookupAccount(name: string): RunAs | null {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f.length >= 4) return { name, uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no /etc/passwd: ask id(1), which also sees NSS accounts
  }
  const u = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (u.status === 0 && g.status === 0) return { name, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  return null;
}
