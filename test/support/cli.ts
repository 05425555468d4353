import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { storeLayout } from "../../src/state/embedded/layout.js";
import { readServerStatus } from "../../src/state/embedded/server.js";

// Drives the real, built CLI (bin/btw → dist/) as a child process: the same binary, argv
// parsing, exit codes and stdout/stderr split that an operator and cron get.

export const ROOT = join(import.meta.dirname, "..", "..");
export const BTW = join(ROOT, "bin", "btw");

export interface BtwResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface BtwHome {
  dir: string;
  env: Record<string, string>;
  /**
   * timeoutMs: default 420 s. Not a performance check (benchmarks are): only a bound on a hung
   * command, kept under the e2e test timeout (600 s). The e2e lanes share two cores with the
   * unit and integration run; a restore that took 60 s alone took over 120 s there.
   */
  run(args: string[], opts?: { env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number }): Promise<BtwResult>;
  cleanup(): void;
}

export function requireBuilt(): void {
  if (!existsSync(join(ROOT, "dist", "src", "cli", "main.js"))) {
    throw new Error("btw is not built: run `npm run build` (npm test does it first)");
  }
}

/** A fresh $BTW_HOME; `env` adds e.g. BTW_DATABASE_URL for the pg driver. */
export function tempHome(env: Record<string, string> = {}): BtwHome {
  requireBuilt();
  const dir = mkdtempSync(join(tmpdir(), "btw-home-"));
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    BTW_HOME: dir,
    NO_COLOR: "1",
    ...env,
  };
  return {
    dir,
    env: baseEnv,
    async run(args, opts = {}) {
      const r = await execa(process.execPath, [BTW, ...args], {
        env: { ...baseEnv, ...opts.env },
        extendEnv: false,
        reject: false,
        input: opts.input ?? "",
        cwd: opts.cwd ?? dir,
        timeout: opts.timeoutMs ?? 420_000,
      });
      return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    cleanup() {
      stopEmbeddedServer(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A home on the embedded store has a PostgreSQL server running in the background (until its
 * idle timeout); removing the home must not leave it running on a deleted directory.
 */
function stopEmbeddedServer(dir: string): void {
  const layout = storeLayout(join(dir, "state"));
  const st = readServerStatus(layout);
  if (!st.alive || !st.pid) return;
  try {
    process.kill(st.pid, "SIGINT"); // fast shutdown
  } catch {
    return;
  }
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (const until = Date.now() + 15_000; Date.now() < until && readServerStatus(layout).alive; ) Atomics.wait(tick, 0, 0, 50);
}

/** The lines of stderr that are errors (one per failure, by contract). */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("error:"));
}

/** Runs SQL on a home's state (embedded store or its BTW_DATABASE_URL) to set up a precondition. */
export async function stateSql(home: BtwHome, sql: string, params: unknown[] = []): Promise<unknown[]> {
  const { openDb } = await import("../../src/state/db.js");
  const db = await openDb({ ...(home.env.BTW_DATABASE_URL ? { url: home.env.BTW_DATABASE_URL } : {}), dataDir: join(home.dir, "state"), command: "test fixture" });
  try {
    return (await db.query(sql, params)).rows;
  } finally {
    await db.close();
  }
}

/** One of a tenant's sealed secrets, opened as btw would (master key of the home). */
export async function tenantSecret(home: BtwHome, slug: string, name: string): Promise<string> {
  const [{ openDb }, { loadMasterKey }, { readSecret }, { getTenant }] = await Promise.all([
    import("../../src/state/db.js"),
    import("../../src/secrets/master-key.js"),
    import("../../src/ops/tenant-secrets.js"),
    import("../../src/state/tenants.js"),
  ]);
  const db = await openDb({ ...(home.env.BTW_DATABASE_URL ? { url: home.env.BTW_DATABASE_URL } : {}), dataDir: join(home.dir, "state"), command: "test fixture" });
  try {
    const t = await getTenant(db, slug);
    if (!t) throw new Error(`no tenant ${slug} in this home's state`);
    const v = await readSecret(db, loadMasterKey(home.dir, home.env), t.id, name);
    if (!v) throw new Error(`tenant ${slug} has no secret ${name}`);
    return v;
  } finally {
    await db.close();
  }
}

/** btw with a long deadline (a create, restore or upgrade under load takes minutes); `seconds` is its wall time. */
export async function runLong(
  home: BtwHome,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<BtwResult & { seconds: number }> {
  const t0 = Date.now();
  const r = await home.run(args, { env: opts.env, input: opts.input ?? "", timeoutMs: opts.timeoutMs ?? 900_000 });
  return { ...r, seconds: (Date.now() - t0) / 1000 };
}

/**
 * Runs btw with the home's env and SIGSTOPs it the moment `title` (a step's title) shows on its
 * stderr, so a test can act at that point of the operation (e.g. write to the tenant) before
 * the next step runs. `resume()` SIGCONTs it and resolves with its result once it ends;
 * `kill()` ends it (a test that failed meanwhile). Rejects if it ended before `title`.
 */
export async function pauseDuring(home: BtwHome, args: string[], title: string, timeoutMs = 900_000): Promise<{ resume(): Promise<BtwResult>; kill(): void }> {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, [BTW, ...args], { env: home.env, cwd: home.dir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let paused = false;
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  // "close": the streams are drained too (a --json report arrives whole)
  const ended = new Promise<BtwResult>((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (!paused && stderr.includes(title) && child.exitCode === null) {
        paused = true;
        child.kill("SIGSTOP");
        resolve();
      }
    });
    void ended.then((r) => (paused ? undefined : reject(new Error(`\`btw ${args.join(" ")}\` ended (${r.code}) before '${title}':\n${stderr}`))));
  });
  return {
    resume: async () => {
      child.kill("SIGCONT");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await ended;
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () => {
      child.kill("SIGKILL");
    },
  };
}

/**
 * Runs btw with the home's env and SIGKILLs it the moment `title` (a step's title) shows on
 * its stderr; resolves with what it printed once it is dead, rejects if it ended by itself.
 */
export async function killDuring(home: BtwHome, args: string[], title: string): Promise<string> {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, [BTW, ...args], { env: home.env, cwd: home.dir, stdio: ["ignore", "ignore", "pipe"] });
  let seen = "";
  return new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(title) && child.exitCode === null) child.kill("SIGKILL");
    });
    child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve(seen) : reject(new Error(`\`btw ${args.join(" ")}\` ended (${code}) before '${title}':\n${seen}`))));
  });
}
