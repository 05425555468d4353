// PostgreSQL refuses to run as root. When btw runs as root (servers, CI, cron), the embedded
// server runs as a system account of its own, `btw-state`, created with useradd the first
// time; BTW_STATE_USER names another one where useradd is not the way accounts are made.
// Never a shared account: the server's socket is reachable through /proc/<pid>/cwd by any
// process of the uid it runs as, so under `postgres` every other PostgreSQL on the host (and
// whatever runs as its account) could reach btw's state — servers' addresses, pinned host
// keys (issue 22 item 9). Not as root, the server runs as the invoking user.
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

export const STATE_ACCOUNT = "btw-state";

/** Accounts other software runs as: never the embedded server's, even when named. */
const SHARED_ACCOUNTS = new Set(["root", "postgres", "nobody"]);

/** null when not root: the server runs as the current user. */
export function serverAccount(env: NodeJS.ProcessEnv = process.env): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  const wanted = env.BTW_STATE_USER;
  if (wanted) {
    const found = lookupAccount(wanted);
    if (!found) {
      throw new ConfigError(`BTW_STATE_USER=${wanted}: no such account`, {
        code: "state-account-missing",
        hint: `name an existing account used by nothing but btw's state store, or unset BTW_STATE_USER to let btw create ${STATE_ACCOUNT}`,
      });
    }
    if (SHARED_ACCOUNTS.has(found.name) || found.uid === 0) {
      throw new ConfigError(`BTW_STATE_USER=${wanted}: the state store does not run as an account other software shares`, {
        code: "state-account-shared",
        hint: `any process running as ${wanted} could reach the state store's socket; unset BTW_STATE_USER (btw creates ${STATE_ACCOUNT}) or name an account of its own`,
      });
    }
    return found;
  }
  const existing = lookupAccount(STATE_ACCOUNT);
  if (existing) return existing;
  const r = spawnSync(
    "useradd",
    ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", STATE_ACCOUNT],
    { encoding: "utf8" },
  );
  // another btw may have created it at the same moment (useradd then fails): look again
  const made = lookupAccount(STATE_ACCOUNT);
  if (made) return made;
  throw new ConfigError(`running as root, and no account of its own to run the embedded PostgreSQL as`, {
    code: "state-account-missing",
    hint: `create one (useradd --system --user-group ${STATE_ACCOUNT}) or set BTW_STATE_USER to an account used by nothing else${r.stderr ? ` (useradd: ${r.stderr.trim()})` : ""}`,
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
