// The embedded state server: real PostgreSQL started on demand by the first btw command that
// needs it, detached, on a Unix socket under $BTW_HOME/state, shut down after an idle time by
// a small watcher (idle-watch.ts). postmaster.pid is the one source of truth for "is it
// running": PostgreSQL writes it (pid, start time, status) and removes it on a clean stop.
//
// Starting is serialised by a start lock (an O_EXCL lock file, stale-safe: store-lock.ts),
// so two commands starting at once start one server. A server killed with -9 leaves its
// postmaster.pid behind; the next start removes it when its pid is gone or is no postgres.

import { spawn, spawnSync } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, OperationError } from "../../errors.js";
import { acquireStoreLock, pidAlive } from "../store-lock.js";
import { ownedByOther, STORE_ROLE, takeOwnership, writeAccessRules } from "./access.js";
import { serverAccount, type RunAs } from "./account.js";
import { findPgBinaries, reachableBinaries, type PgBinaries } from "./binaries.js";
import { socketPath, type StoreLayout } from "./layout.js";

export interface ServerStatus {
  /** accepting connections */
  running: boolean;
  /** a postmaster process exists (maybe still starting or stopping) */
  alive: boolean;
  pid: number | null;
  /** ISO time the server started */
  since: string | null;
  /** postmaster.pid's status line: ready, starting, stopping, standby */
  state: string | null;
  socket: string;
  dataDir: string;
}

const START_TIMEOUT_MS = 60_000;
/** A start lock waits this long at most: initdb + start take seconds, not minutes. */
const START_LOCK_TIMEOUT_MS = 120_000;
export const DEFAULT_IDLE_SECONDS = 900;

export function readServerStatus(l: StoreLayout): ServerStatus {
  const base = { socket: socketPath(l), dataDir: l.pgdata };
  let lines: string[];
  try {
    lines = readFileSync(path.join(l.pgdata, "postmaster.pid"), "utf8").split("\n");
  } catch {
    return { ...base, running: false, alive: false, pid: null, since: null, state: null };
  }
  const pid = Number(lines[0]);
  const started = Number(lines[2]);
  const state = lines[7]?.trim() || null;
  const alive = Number.isInteger(pid) && pid > 0 && pidAlive(pid) && isOurServer(pid, l.pgdata);
  return {
    ...base,
    running: alive && state === "ready",
    alive,
    pid: Number.isInteger(pid) && pid > 0 ? pid : null,
    since: Number.isFinite(started) && started > 0 ? new Date(started * 1000).toISOString() : null,
    state,
  };
}

/**
 * A pid reused after a kill -9 (containers restart pids low) by another program — or by the
 * server of another store — is not our server: ours runs in our data directory.
 */
function isOurServer(pid: number, pgdata: string): boolean {
  if (process.platform !== "linux") return true;
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(pgdata);
  } catch {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("postgres");
    } catch {
      return true; // cannot tell: assume it is, PostgreSQL's own check still guards the data
    }
  }
}

export interface EnsureOptions {
  env?: NodeJS.ProcessEnv;
  command?: string;
  /** runs under the start lock before the server starts (the PGlite conversion) */
  beforeStart?: () => Promise<void>;
}

/** Makes sure the server runs; returns whether this call started it. */
export async function ensureServer(l: StoreLayout, opts: EnsureOptions = {}): Promise<{ startedNow: boolean }> {
  const env = opts.env ?? process.env;
  const account = serverAccount(env);
  if (readServerStatus(l).running && !opts.beforeStart && !ownedByOther(l.pgdata, account)) return { startedNow: false };
  // sun_path holds 107 bytes on Linux (103 on macOS); a longer socket path cannot be bound.
  if (Buffer.byteLength(socketPath(l)) > 103) {
    throw new ConfigError(`the state store's socket path is too long for a Unix socket: ${socketPath(l)}`, {
      code: "state-path-too-long",
      hint: "set BTW_HOME to a shorter path (at most ~80 characters)",
    });
  }
  mkdirSync(path.dirname(l.dir), { recursive: true, mode: 0o700 });
  const lock = await acquireStoreLock(l.startLock, {
    timeoutMs: START_LOCK_TIMEOUT_MS,
    command: `start the state server${opts.command ? ` for ${opts.command}` : ""}`,
  });
  try {
    await opts.beforeStart?.();
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const st = readServerStatus(l);
      if (st.running && ownedByOther(l.pgdata, account)) {
        // a server of an older btw, under a shared account: stopped once, to be handed over
        await stopServer(l);
        continue;
      }
      if (st.running) return { startedNow: false };
      if (!st.alive) break;
      // starting (another start lock holder crashed mid-way) or stopping (idle shutdown, db stop)
      if (Date.now() > deadline) throw startError(l, `a server (pid ${st.pid}) stays "${st.state}"`);
      await sleep(50);
    }
    const found = await findPgBinaries(env);
    const bins = account ? reachableBinaries(found, (postgres) => spawnSyncAs(postgres, ["--version"], "/", account).status === 0) : found;
    mkdirSync(l.dir, { recursive: true, mode: 0o700 });
    if (!existsSync(path.join(l.pgdata, "PG_VERSION"))) initdb(l, bins, account);
    else if (account && ownedByOther(l.pgdata, account)) takeOwnership(l.pgdata, account);
    removeStalePidFiles(l);
    writeAccessRules(l.pgdata, account);
    const pid = await startPostgres(l, bins, account, deadline);
    startIdleWatch(l, pid, env);
    return { startedNow: true };
  } finally {
    await lock.release();
  }
}

function initdb(l: StoreLayout, bins: PgBinaries, account: RunAs | null): void {
  const building = `${l.pgdata}.init`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { mode: 0o700 });
  if (account) chownSync(building, account.uid, account.gid);
  // --no-locale: byte-order collation, as PGlite and the tests' server, so ORDER BY text agrees.
  const args = ["-D", account ? "/proc/self/cwd" : building, "-U", STORE_ROLE, "--auth-local=peer", "--auth-host=reject", "--no-locale", "--encoding=UTF8"];
  const r = spawnSyncAs(bins.initdb, args, building, account);
  if (r.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new OperationError(`initdb of the embedded state store failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}`, {
      code: "state-unreachable",
      hint: account
        ? `the server runs as ${account.name}: it must be able to execute ${bins.initdb} (install btw where that account can read it, or set BTW_POSTGRES_BIN)`
        : "check free disk space under $BTW_HOME",
    });
  }
  // Built beside and renamed: a crash mid-initdb never leaves a half-made data dir in place.
  renameSync(building, l.pgdata);
}

function spawnSyncAs(cmd: string, args: string[], cwd: string, account: RunAs | null): { status: number | null; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: serverEnv(), ...(account ? { uid: account.uid, gid: account.gid } : {}) });
  return { status: r.status, stderr: r.stderr ?? String(r.error ?? "") };
}

function serverEnv(): NodeJS.ProcessEnv {
  // No PG* variables of the operator's shell (PGDATA, PGPORT…) may steer the server.
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", ...(process.env.TZ ? { TZ: process.env.TZ } : {}) };
}

/** postmaster.pid / socket lock left by a killed server; PostgreSQL would refuse a live foreign pid. */
function removeStalePidFiles(l: StoreLayout): void {
  for (const f of ["postmaster.pid", `.s.PGSQL.${l.port}.lock`, `.s.PGSQL.${l.port}`]) rmSync(path.join(l.pgdata, f), { force: true });
}

async function startPostgres(l: StoreLayout, bins: PgBinaries, account: RunAs | null, deadline: number): Promise<number> {
  const here = account ? "/proc/self/cwd" : l.pgdata;
  const args = [
    "-D", here,
    "-p", String(l.port),
    "-c", "listen_addresses=",
    "-c", `unix_socket_directories=${here}`,
    "-c", "unix_socket_permissions=0700",
    "-c", "max_connections=200",
    "-c", "shared_buffers=16MB",
    "-c", "huge_pages=off",
  ];
  for (;;) {
    const logFd = openSync(l.log, "a", 0o600);
    let child;
    try {
      child = spawn(bins.postgres, args, {
        cwd: l.pgdata,
        detached: true,
        stdio: ["ignore", logFd, logFd],
        env: serverEnv(),
        ...(account ? { uid: account.uid, gid: account.gid } : {}),
      });
    } finally {
      closeSync(logFd);
    }
    child.unref();
    let exited: number | null | undefined;
    child.once("exit", (code) => (exited = code));
    child.once("error", () => (exited = -1));
    for (;;) {
      const st = readServerStatus(l);
      if (st.running && st.pid === child.pid) return child.pid;
      if (exited !== undefined) break;
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw startError(l, "the server did not become ready in time");
      }
      await sleep(20);
    }
    // Children of a server killed with -9 may still hold its shared memory for a moment.
    if (logTail(l).includes("pre-existing shared memory block") && Date.now() < deadline) {
      await sleep(200);
      removeStalePidFiles(l);
      continue;
    }
    throw startError(l, `the server exited with ${exited} on start`);
  }
}

function startIdleWatch(l: StoreLayout, pid: number, env: NodeJS.ProcessEnv): void {
  const idle = Number(env.BTW_DB_IDLE_TIMEOUT ?? DEFAULT_IDLE_SECONDS);
  if (!Number.isFinite(idle) || idle <= 0) return; // 0: keep running until `btw db stop`
  const self = fileURLToPath(import.meta.url);
  const script = path.join(path.dirname(self), `idle-watch${path.extname(self)}`);
  // From sources (tests, tsx) the watcher is TypeScript too.
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...loader, script, l.socketDir, String(l.port), String(pid), String(idle)], {
    cwd: path.dirname(self),
    detached: true,
    stdio: "ignore",
  });
  child.on("error", () => {}); // without a watcher the server only runs until `btw db stop`
  child.unref();
}

function logTail(l: StoreLayout): string {
  try {
    return readFileSync(l.log, "utf8").slice(-2000);
  } catch {
    return "";
  }
}

function startError(l: StoreLayout, what: string): OperationError {
  const tail = logTail(l).trim().split("\n").slice(-5).join("\n");
  return new OperationError(`cannot start the embedded state server: ${what}${tail ? `\n${tail}` : ""}`, {
    code: "state-unreachable",
    hint: `see ${l.log}; \`btw db status\` shows the server, \`btw db stop\` stops it`,
  });
}

export interface StopResult {
  wasRunning: boolean;
  pid: number | null;
}

/** Stops the server: SIGINT = PostgreSQL's fast shutdown (open sessions are ended, their work rolled back). */
export async function stopServer(l: StoreLayout, timeoutMs = 30_000): Promise<StopResult> {
  const st = readServerStatus(l);
  if (!st.alive || st.pid === null) return { wasRunning: false, pid: st.pid };
  process.kill(st.pid, "SIGINT");
  const deadline = Date.now() + timeoutMs;
  while (readServerStatus(l).alive) {
    if (Date.now() > deadline) {
      throw new OperationError(`the embedded state server (pid ${st.pid}) did not stop within ${timeoutMs / 1000} s`, {
        code: "state-stop-timeout",
        hint: `see ${l.log}; as a last resort kill -9 ${st.pid} (the next btw command recovers it)`,
      });
    }
    await sleep(50);
  }
  return { wasRunning: true, pid: st.pid };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
