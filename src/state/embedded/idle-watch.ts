// The embedded state server's idle shutdown, a detached process started with the server:
//   idle-watch <socketDir> <port> <postmasterPid> <idleSeconds>
// It ends when the server is gone, and stops the server (SIGTERM, PostgreSQL's smart
// shutdown: a session that slipped in still finishes) once no client has been connected for
// idleSeconds. A command arriving during that shutdown starts a new server.
//
// On Linux it counts the server's client backends from /proc (their titles read
// "postgres: … [local] …"), which keeps pg out of this long-lived process (~16 MB less);
// elsewhere it asks pg_stat_activity.

import { readdirSync, readFileSync } from "node:fs";

const [socketDir, portArg, pidArg, idleArg] = process.argv.slice(2);
const pid = Number(pidArg);
const idleMs = Number(idleArg) * 1000;
const pollMs = Math.max(200, Math.min(5_000, idleMs / 4));

function alive(): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function clientsFromProc(): number {
  let n = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces, so split after the last ")"
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("[local]")) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

async function clientsFromServer(): Promise<number> {
  const { default: pg } = await import("pg");
  const c = new pg.Client({ host: socketDir, port: Number(portArg), user: "postgres", database: "postgres", application_name: "btw:idle-watch" });
  c.on("error", () => {});
  try {
    await c.connect();
    const r = await c.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
    return r.rows[0]?.n ?? 0;
  } catch {
    return -1; // starting, stopping, or too many connections: not a reason to stop it
  } finally {
    await c.end().catch(() => {});
  }
}

const clients = process.platform === "linux" ? async () => clientsFromProc() : clientsFromServer;

let idleSince = Date.now();
while (alive()) {
  await new Promise((r) => setTimeout(r, pollMs));
  const n = await clients();
  if (n !== 0) idleSince = Date.now();
  else if (Date.now() - idleSince >= idleMs) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
    break;
  }
}
