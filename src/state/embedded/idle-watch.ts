// The embedded state server's idle shutdown, a detached process started with the server:
//   idle-watch <socketDir> <port> <postmasterPid> <idleSeconds>
// It ends when the server is gone, and stops the server (SIGTERM, PostgreSQL's smart
// shutdown: a session that slipped in still finishes) once no client has been connected for
// idleSeconds. A command arriving during that shutdown starts a new server.

import pg from "pg";

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

async function clients(): Promise<number> {
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
