import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openDb } from "../../../src/state/db.js";
import { serverAccount, STATE_ACCOUNT, type RunAs } from "../../../src/state/embedded/account.js";
import { findPgBinaries, reachableBinaries } from "../../../src/state/embedded/binaries.js";
import { storeLayout, type StoreLayout } from "../../../src/state/embedded/layout.js";
import { readServerStatus, stopServer } from "../../../src/state/embedded/server.js";

// Issue 22 item 9: the embedded store ran as the shared `postgres` account with trust auth, so
// any process of that uid (every other PostgreSQL on the host) reached its socket through
// /proc/<pid>/cwd and could rewrite servers.host and host_keys. Now it runs as an account of
// its own, its data dir is that account's (0700), and the socket wants peer credentials of
// the OS account btw runs as. Proven with the real server and real processes of other uids:
// root only (only root can run a process as another account).

const root = process.getuid?.() === 0;
const dirs: string[] = [];

async function newStore(): Promise<StoreLayout> {
  const home = await mkdtemp(path.join(os.tmpdir(), "btw-embedded-access-"));
  dirs.push(home);
  return storeLayout(path.join(home, "state"));
}

function account(name: string): RunAs | null {
  const r = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", name], { encoding: "utf8" });
  return r.status === 0 && g.status === 0 ? { name, uid: Number(r.stdout), gid: Number(g.stdout) } : null;
}

// A PostgreSQL client's first message, sent by a process of another uid: no library, so the
// probe needs nothing but node (which every account can run).
const PROBE = `
const net = require("node:net");
const user = Buffer.from("user\\0postgres\\0database\\0postgres\\0\\0");
const msg = Buffer.alloc(8 + user.length);
msg.writeInt32BE(msg.length, 0); msg.writeInt32BE(196608, 4); user.copy(msg, 8);
const s = net.connect(process.argv[1]);
const done = (o) => { process.stdout.write(JSON.stringify(o)); s.destroy(); process.exit(0); };
s.on("error", (e) => done({ outcome: "unreachable", detail: e.code }));
s.on("connect", () => s.write(msg));
let buf = Buffer.alloc(0);
s.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  if (buf.length < 9) return;
  if (buf[0] === 0x52) done(buf.readInt32BE(5) === 0 ? { outcome: "connected" } : { outcome: "password asked" });
  if (buf[0] === 0x45) done({ outcome: "refused", detail: buf.subarray(5).toString().split("\\0").find((f) => f.startsWith("M"))?.slice(1) });
});
setTimeout(() => done({ outcome: "timeout" }), 10000);
`;

function probeAs(who: RunAs | null, socket: string): { outcome: string; detail?: string } {
  const r = spawnSync(process.execPath, ["-e", PROBE, socket], { cwd: "/", encoding: "utf8", ...(who ? { uid: who.uid, gid: who.gid } : {}) });
  if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { outcome: string; detail?: string };
}

const procSocket = (pid: number, l: StoreLayout) => `/proc/${pid}/cwd/.s.PGSQL.${l.port}`;

afterEach(async () => {
  for (const d of dirs) await stopServer(storeLayout(path.join(d, "state"))).catch(() => {});
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe.runIf(root)("embedded state store: nobody but btw reaches it", () => {
  it("runs as btw-state with a 0700 data dir; postgres and nobody cannot reach its socket, and btw-state itself is refused by peer auth", async () => {
    const l = await newStore();
    const db = await openDb({ dataDir: l.dir });
    await db.close();
    const pid = readServerStatus(l).pid!;
    expect(probeAs(null, path.join(l.socketDir, `.s.PGSQL.${l.port}`))).toEqual({ outcome: "connected" }); // btw itself (root)
    for (const name of ["postgres", "nobody"]) {
      const other = account(name);
      if (!other) continue;
      expect(probeAs(other, procSocket(pid, l)).outcome, `${name} through /proc/${pid}/cwd`).toBe("unreachable");
      expect(probeAs(other, path.join(l.pgdata, `.s.PGSQL.${l.port}`)).outcome, `${name} by path`).toBe("unreachable");
    }
    const own = account(STATE_ACCOUNT)!;
    expect(own, `${STATE_ACCOUNT} was created`).not.toBeNull();
    expect(statSync(l.pgdata)).toMatchObject({ uid: own.uid, gid: own.gid });
    expect(statSync(l.pgdata).mode & 0o777).toBe(0o700);
    // the server's own account reaches the socket (it is its cwd) but is not let in: no trust
    const self = probeAs(own, procSocket(pid, l));
    expect(self.outcome).toBe("refused");
    expect(self.detail).toMatch(/peer authentication failed/i);
  });

  it("a home of an older btw (server running as postgres, trust) is handed to btw-state at the next open: rows kept, postgres shut out", async () => {
    const pgAccount = account("postgres");
    expect(pgAccount, "this test needs the postgres account (the integration set-up's PostgreSQL runs as it)").not.toBeNull();
    const l = await newStore();
    const first = await openDb({ dataDir: l.dir });
    await first.query("create table kept (x text); insert into kept values ('before the move')");
    await first.close();
    await stopServer(l);
    // as btw ≤ this change left it: everything postgres's, trust on the socket, server running as postgres
    execFileSync("chown", ["-R", `${pgAccount!.uid}:${pgAccount!.gid}`, l.pgdata]);
    writeFileSync(path.join(l.pgdata, "pg_hba.conf"), "local all all trust\n");
    const old = await startAs(l, pgAccount!);
    expect(probeAs(pgAccount, procSocket(old, l)), "the hole, before").toEqual({ outcome: "connected" });

    const db = await openDb({ dataDir: l.dir });
    try {
      expect((await db.query<{ x: string }>("select x from kept")).rows).toEqual([{ x: "before the move" }]);
    } finally {
      await db.close();
    }
    const now = readServerStatus(l).pid!;
    expect(now).not.toBe(old);
    const own = account(STATE_ACCOUNT)!;
    const owners = new Set<number>();
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        owners.add(statSync(path.join(d, e.name)).uid);
        if (e.isDirectory()) walk(path.join(d, e.name));
      }
    };
    walk(l.pgdata);
    expect([...owners]).toEqual([own.uid]);
    expect(statSync(l.pgdata).uid).toBe(own.uid);
    expect(probeAs(pgAccount, procSocket(now, l)).outcome, "postgres, after").toBe("unreachable");
    expect(readFileSync(path.join(l.pgdata, "pg_hba.conf"), "utf8")).not.toMatch(/trust/);
  });

  it("refuses BTW_STATE_USER naming a shared account", () => {
    expect(() => serverAccount({ BTW_STATE_USER: "postgres" })).toThrow(expect.objectContaining({ code: "state-account-shared" }));
    expect(() => serverAccount({ BTW_STATE_USER: "root" })).toThrow(expect.objectContaining({ code: "state-account-shared" }));
  });
});

/** Starts the store's server as `who`, the way btw ≤ this change did; returns its pid once ready. */
async function startAs(l: StoreLayout, who: RunAs): Promise<number> {
  const bins = reachableBinaries(await findPgBinaries({}), (p) => spawnSync(p, ["--version"], { uid: who.uid, gid: who.gid }).status === 0);
  const log = openSync(l.log, "a", 0o600);
  const here = "/proc/self/cwd";
  const child = spawn(
    bins.postgres,
    ["-D", here, "-p", String(l.port), "-c", "listen_addresses=", "-c", `unix_socket_directories=${here}`, "-c", "unix_socket_permissions=0700", "-c", "shared_buffers=16MB", "-c", "huge_pages=off"],
    { cwd: l.pgdata, detached: true, stdio: ["ignore", log, log], uid: who.uid, gid: who.gid, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" } },
  );
  closeSync(log);
  child.unref();
  const deadline = Date.now() + 30_000;
  while (!(readServerStatus(l).running && readServerStatus(l).pid === child.pid)) {
    if (Date.now() > deadline) throw new Error(`the old-style server did not start: ${readFileSync(l.log, "utf8").slice(-500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child.pid!;
}
