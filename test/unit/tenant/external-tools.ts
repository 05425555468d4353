// Real Compose v2 and Caddy, when this machine has them, to check the templates against the
// tools that will read them. `BTW_COMPOSE_BIN` / `BTW_CADDY_BIN` point at a binary (e.g. one
// extracted from a Debian package); otherwise `docker compose`, `docker-compose` v2 and
// `caddy` on PATH are tried. Both run offline: `compose config` and `caddy adapt` need no
// daemon, no network.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Only what the tools need: the caller's variables would override .env values in Compose.
export const CLEAN_ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" };

function works(argv: string[], expect: RegExp): boolean {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return false;
  const r = spawnSync(cmd, args, { encoding: "utf8", env: CLEAN_ENV, timeout: 20_000 });
  return r.status === 0 && expect.test(r.stdout);
}

let compose: string[] | null | undefined;
/** argv prefix running Compose v2, or null. */
export function findCompose(): string[] | null {
  if (compose !== undefined) return compose;
  const candidates = [
    ...(process.env.BTW_COMPOSE_BIN ? [[process.env.BTW_COMPOSE_BIN]] : []),
    ["docker", "compose"],
    ["docker-compose"],
  ];
  compose = candidates.find((c) => works([...c, "version", "--short"], /^v?2\./)) ?? null;
  return compose;
}

let caddy: string | null | undefined;
/** path of a Caddy 2 binary, or null. */
export function findCaddy(): string | null {
  if (caddy !== undefined) return caddy;
  const candidates = [...(process.env.BTW_CADDY_BIN ? [process.env.BTW_CADDY_BIN] : []), "caddy"];
  caddy = candidates.find((c) => works([c, "version"], /^v?2\./)) ?? null;
  return caddy;
}

export function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd as string, args, { encoding: "utf8", env: { ...CLEAN_ENV, ...opts.env }, cwd: opts.cwd, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the real Caddy on a rendered Caddyfile with HTTP on `port` (admin off); resolves once
 * `probe` (a request to that port) succeeds. The caller removes `dir` and kills `child`.
 */
export async function runCaddy(caddyBin: string, text: string, port: number, probe: () => Promise<unknown>): Promise<{ dir: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), "btw-caddy-run-"));
  const file = join(dir, "Caddyfile");
  const local = text.replace("\tadmin localhost:2019", `\tadmin off\n\thttp_port ${port}`);
  if (!local.includes(`http_port ${port}`)) throw new Error("the Caddyfile has no `admin localhost:2019` line to replace");
  writeFileSync(file, local);
  const child = spawn(caddyBin, ["run", "--config", file, "--adapter", "caddyfile"], { env: { ...CLEAN_ENV, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir }, stdio: "ignore" });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode}`);
    try {
      await probe();
      return { dir, child };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  throw new Error("caddy did not answer within 15 s");
}
