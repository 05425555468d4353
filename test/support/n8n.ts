// A REAL n8n (the version the lab pins) on 127.0.0.1 for integration tests, backed by a
// PostgreSQL database from createTestDatabase(). One n8n per test file: it needs ~0.5 GB
// and ~6 s+ to start, and the host has two cores.
//
//   let n8n: TestN8n;
//   beforeAll(async () => { n8n = await startN8n({ databaseUrl: tdb.url }); }, N8N_START_TIMEOUT_MS);
//   afterAll(() => n8n?.stop());
//
// The install is the lab's cached npm bundle (test/lab/n8n-bundle.ts), installed on first
// use (~4 min) so a fresh CI machine works. Everything n8n writes (config with the
// encryption key, binary data, event logs) lives in a temp N8N_USER_FOLDER removed by stop().

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "./processes.js";

export interface TestN8n {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly userFolder: string;
  /** ms from spawn to the API answering (readiness, /rest and /api/v1 mounted) */
  readonly startMs: number;
  /** the last ~40 kB of n8n's stdout+stderr, for assertion messages */
  log(): string;
  stop(): Promise<void>;
}

export interface StartN8nOptions {
  /** postgres://user[:password]@127.0.0.1:port/db */
  databaseUrl: string;
  /** GENERIC_TIMEZONE; default UTC */
  timezone?: string;
  /** extra environment (wins over the defaults) */
  env?: Record<string, string>;
  readinessTimeoutMs?: number;
  /** another n8n than the lab's pinned one, e.g. the lab's n8nPrevious (its bundle is installed on first use) */
  version?: string;
}

/** Enough for a first-time npm install of n8n plus a cold start; use as the hook timeout. */
export const N8N_START_TIMEOUT_MS = 25 * 60_000;

/** The n8n binary (the lab's version unless told), installing the lab's cached bundle when it is missing. */
export async function ensureN8nBinary(version?: string): Promise<string> {
  const { labConfig, labPaths } = await import("../lab/config.js");
  const cfg = labConfig();
  const paths = labPaths(cfg);
  const bin = path.join(version ? paths.n8nDirOf(version) : paths.n8nDir, "node_modules", ".bin", "n8n");
  if (existsSync(bin)) return bin;
  const { ensureN8nBundle } = await import("../lab/n8n-bundle.js");
  const dir = await ensureN8nBundle(cfg, false, ...(version ? [version] : []));
  return path.join(dir, "node_modules", ".bin", "n8n");
}

export { freePort };

function dbEnv(databaseUrl: string): Record<string, string> {
  const u = new URL(databaseUrl);
  return {
    DB_TYPE: "postgresdb",
    DB_POSTGRESDB_HOST: u.hostname,
    DB_POSTGRESDB_PORT: u.port || "5432",
    DB_POSTGRESDB_DATABASE: decodeURIComponent(u.pathname.replace(/^\//, "")),
    DB_POSTGRESDB_USER: decodeURIComponent(u.username || "postgres"),
    DB_POSTGRESDB_PASSWORD: decodeURIComponent(u.password),
  };
}

/**
 * Ready for tests = the API is mounted, not just /healthz/readiness: n8n 2.8.4 answers
 * readiness ~5 s before /rest and /api/v1 exist (see N8nClient.waitReady).
 */
async function readyOnce(url: string): Promise<boolean> {
  try {
    for (const [path, status] of [["/healthz/readiness", 200], ["/rest/settings", 200], ["/api/v1/workflows", 401]] as const) {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status !== status) return false;
    }
    return true;
  } catch {
    return false;
  }
}

export async function startN8n(opts: StartN8nOptions): Promise<TestN8n> {
  const bin = await ensureN8nBinary(opts.version);
  const userFolder = await mkdtemp(path.join(os.tmpdir(), "btw-n8n-"));
  let logText = "";
  const append = (d: string): void => {
    logText = (logText + d).slice(-40_000);
  };

  const launch = async (): Promise<{ child: ChildProcess; port: number; startMs: number }> => {
    const port = await freePort();
    const brokerPort = await freePort();
    const env: Record<string, string> = {
      // Only what n8n needs from the parent: no inherited secrets, no proxy variables that
      // would send the fakes' loopback traffic elsewhere.
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: userFolder,
      NODE_ENV: "production",
      ...dbEnv(opts.databaseUrl),
      N8N_USER_FOLDER: userFolder,
      N8N_ENCRYPTION_KEY: randomBytes(24).toString("hex"),
      N8N_PORT: String(port),
      N8N_LISTEN_ADDRESS: "127.0.0.1",
      N8N_HOST: "127.0.0.1",
      N8N_PROTOCOL: "http",
      N8N_SECURE_COOKIE: "false",
      N8N_RUNNERS_BROKER_PORT: String(brokerPort),
      N8N_RUNNERS_BROKER_LISTEN_ADDRESS: "127.0.0.1",
      GENERIC_TIMEZONE: opts.timezone ?? "UTC",
      // Nothing may leave loopback: telemetry, banners, templates, version checks off.
      N8N_DIAGNOSTICS_ENABLED: "false",
      N8N_DIAGNOSTICS_CONFIG_FRONTEND: "",
      N8N_DIAGNOSTICS_CONFIG_BACKEND: "",
      N8N_VERSION_NOTIFICATIONS_ENABLED: "false",
      N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: "false",
      N8N_PERSONALIZATION_ENABLED: "false",
      N8N_TEMPLATES_ENABLED: "false",
      N8N_DYNAMIC_BANNERS_ENABLED: "false",
      N8N_HIRING_BANNER_ENABLED: "false",
      N8N_AI_ENABLED: "false",
      // no Python runner: it is not installed, and n8n would log a failure to start it
      N8N_PYTHON_ENABLED: "false",
      N8N_LICENSE_AUTO_RENEW_ENABLED: "false",
      N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: "false",
      N8N_LOG_LEVEL: "info",
      N8N_LOG_OUTPUT: "console",
      ...opts.env,
    };
    const started = Date.now();
    const child = spawn(bin, ["start"], { env, cwd: userFolder, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    const deadline = started + (opts.readinessTimeoutMs ?? 120_000);
    for (;;) {
      const early = await Promise.race([exited, new Promise<"running">((r) => setTimeout(() => r("running"), 250))]);
      if (early !== "running") throw new Error(`n8n exited with ${early} before it was ready:\n${logText.slice(-4000)}`);
      if (await readyOnce(url)) return { child, port, startMs: Date.now() - started };
      if (Date.now() > deadline) {
        await kill(child);
        throw new Error(`n8n not ready on ${url} within ${opts.readinessTimeoutMs ?? 120_000} ms:\n${logText.slice(-4000)}`);
      }
    }
  };

  let running: { child: ChildProcess; port: number; startMs: number } | undefined;
  // A probed port may be taken before n8n binds it (EADDRINUSE makes it exit): retry.
  for (let attempt = 1; ; attempt++) {
    try {
      running = await launch();
      break;
    } catch (e) {
      if (attempt >= 2 || !/EADDRINUSE/.test(String(e))) {
        await rm(userFolder, { recursive: true, force: true });
        throw e;
      }
    }
  }

  const { child, port, startMs } = running;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    userFolder,
    startMs,
    log: () => logText,
    async stop() {
      await kill(child);
      await rm(userFolder, { recursive: true, force: true });
    },
  };
}

/**
 * SIGTERM (n8n then stops its task runner), SIGKILL after 15 s. n8n runs in its own process
 * group (detached) so the fallback also reaches the runner it spawned.
 */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }, 15_000);
  await gone;
  clearTimeout(timer);
  // The runner may outlive a clean exit by a moment; its group dies with it.
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    // group already gone
  }
}

/** An owner for test instances; the password satisfies n8n's rule (8–64, digit, uppercase). */
export function testOwner(): { email: string; firstName: string; lastName: string; password: string } {
  return { email: "owner@btw.test", firstName: "Btw", lastName: "Test", password: `Pw9${randomBytes(9).toString("hex")}` };
}

/**
 * Owner + API key on a fresh test n8n: `session` holds the owner's cookie (internal API:
 * runs), `api` also has the key (public API). Uses the real client, src/remote/n8n.ts.
 */
export async function bootstrapN8n(n8n: TestN8n, label = "btw-test") {
  const { N8nClient } = await import("../../src/remote/n8n.js");
  const owner = testOwner();
  const session = new N8nClient({ baseUrl: n8n.url, label: "test n8n" });
  await session.setupOwner(owner);
  const apiKey = await session.createApiKey(label);
  return { owner, apiKey, session, api: session.withApiKey(apiKey) };
}
