import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfigText } from "../src/config/load.js";
import { composeDown } from "../src/core/commands/compose.js";
import { shellJoin } from "../src/core/shell.js";
import { tenantLayout } from "../src/core/tenant/layout.js";

// What the lab benches share: the lab brought up, the server a bench runs on, commands there
// over SSH with the lab key, and a tenant stack put on it without btw (compose file and .env).

export const root = join(import.meta.dirname, "..");

export interface BenchServer {
  name: string;
  host: string;
  port: number;
  user: string;
  sshKey: string;
}
export interface BenchLab {
  servers: BenchServer[];
  config: string;
}

/** `npm run lab -- up --json` (building or starting what is missing), its servers and config. */
export function benchLab(): BenchLab {
  console.error("bringing the lab up (npm run lab -- up)…");
  return JSON.parse(execFileSync("npm", ["run", "--silent", "lab", "--", "up", "--json"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })) as BenchLab;
}

/** BENCH_SERVER if the lab has it, else its last server. */
export const benchServer = (lab: BenchLab): BenchServer => lab.servers.find((s) => s.name === process.env.BENCH_SERVER) ?? lab.servers[lab.servers.length - 1]!;

/** btw's configuration as the lab's fragment makes it (images, plans). */
export const benchConfig = (lab: BenchLab) => parseConfigText(`domain: lab.btw.test\n${readFileSync(lab.config, "utf8")}`, "bench", {}).config;

/** Runs argv on a server (quoted by shellJoin), stdin from `input`; throws with its stderr on failure. */
export const sshTo =
  (s: BenchServer) =>
  (argv: string[], input?: string): string => {
    const r = spawnSync("ssh", ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", s.sshKey, "-p", String(s.port), `${s.user}@${s.host}`, shellJoin(argv)], { input, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${argv.slice(0, 3).join(" ")} failed on ${s.name}: ${r.stderr}`);
    return r.stdout;
  };

/** Writes a tenant's compose file and .env (0600) on the server, as btw lays them out. */
export function putStack(ssh: ReturnType<typeof sshTo>, slug: string, compose: string, env: string): void {
  const l = tenantLayout(slug);
  ssh(["mkdir", "-p", l.dir]);
  ssh(["sh", "-c", 'cat > "$1"', "sh", l.composeFile], compose);
  ssh(["sh", "-c", 'umask 077; cat > "$1"', "sh", l.envFile], env);
}

/** Removes the stack with its volumes, then its directory. */
export function dropStack(ssh: ReturnType<typeof sshTo>, slug: string): void {
  ssh(composeDown(slug, { volumes: true }));
  ssh(["rm", "-rf", tenantLayout(slug).dir]);
}
