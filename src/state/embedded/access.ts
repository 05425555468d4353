// Who may reach the embedded state server. Three fences, each enough on its own against a
// process of another uid:
//   - the server runs as an account of its own (account.ts), so no other uid can follow
//     /proc/<pid>/cwd to its socket;
//   - its data directory, which holds the socket, is 0700 and owned by that account, as is
//     every file in it (a home made by an older btw under `postgres` is handed over once);
//   - the socket lets a client in only when its peer credentials name the OS account btw
//     runs as (root, or the invoking user): `peer` authentication through a user map, not
//     `trust`. No TCP listener at all (listen_addresses is empty).

import { chmodSync, chownSync, lchownSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import type { RunAs } from "./account.js";

/** The database role btw connects as. */
export const STORE_ROLE = "postgres";

export function hbaConf(): string {
  return [
    "# Written by btw before each start of the embedded state server (src/state/embedded/access.ts).",
    "# Unix socket only; a client gets in when its OS account is mapped to the role it asks for.",
    "local all all peer map=btw",
    "",
  ].join("\n");
}

/** The OS account btw runs as is the superuser; nobody else is anybody. */
export function identConf(osUser: string): string {
  return [
    "# Written by btw before each start of the embedded state server (src/state/embedded/access.ts).",
    `btw ${identName(osUser)} ${STORE_ROLE}`,
    "",
  ].join("\n");
}

function identName(name: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** Puts the access rules in the data directory; the server reads them when it starts. */
export function writeAccessRules(pgdata: string, account: RunAs | null): void {
  const files: Array<[string, string]> = [
    ["pg_hba.conf", hbaConf()],
    ["pg_ident.conf", identConf(userInfo().username)],
  ];
  for (const [name, text] of files) {
    const dest = path.join(pgdata, name);
    const aside = `${dest}.btw-new`;
    writeFileSync(aside, text, { mode: 0o600 });
    if (account) chownSync(aside, account.uid, account.gid);
    renameSync(aside, dest);
  }
}

/** Whether the data directory belongs to another account than the one the server runs as. */
export function ownedByOther(pgdata: string, account: RunAs | null): boolean {
  if (!account) return false; // not root: nothing can be handed over, and nothing needs to be
  const st = statSync(pgdata, { throwIfNoEntry: false });
  return !!st && (st.uid !== account.uid || st.gid !== account.gid);
}

/**
 * Hands a data directory made under another account (btw ≤ this change ran the server as
 * `postgres`) to the server's account, with the server stopped. The directory itself is
 * handed over last: it is the record of the move, so a move cut short (kill -9) is seen as
 * not done and redone whole by the next start, and a finished one is never repeated.
 */
export function takeOwnership(pgdata: string, account: RunAs): void {
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      lchownSync(p, account.uid, account.gid);
    }
  };
  walk(pgdata);
  chmodSync(pgdata, 0o700);
  chownSync(pgdata, account.uid, account.gid);
}
