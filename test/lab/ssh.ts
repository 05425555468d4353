import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabConfig } from "./config.js";
import { labPaths } from "./config.js";
import { run, tryRun, type RunOptions, type RunResult } from "./run.js";

export interface LabServer {
  name: string;
  host: string;
  port: number;
  user: string;
  sshKey: string;
}

/** The lab's client key, made once in the lab home and mounted into every VM. */
export async function ensureLabKey(cfg: LabConfig): Promise<{ path: string; publicKey: string }> {
  const { sshDir, sshKey } = labPaths(cfg);
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  chmodSync(sshDir, 0o700);
  if (!existsSync(sshKey)) {
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "btw-lab", "-f", sshKey]);
  }
  return { path: sshKey, publicKey: readFileSync(`${sshKey}.pub`, "utf8").trim() };
}

/** A per-VM host key kept in the lab home: a VM recreated by `up` keeps its identity. */
export async function ensureHostKey(cfg: LabConfig, vm: string): Promise<{ dir: string; publicKey: string }> {
  const dir = join(labPaths(cfg).hostKeysDir, vm);
  const key = join(dir, "ssh_host_ed25519_key");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(key)) await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", vm, "-f", key]);
  return { dir, publicKey: readFileSync(`${key}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ") };
}

/** known_hosts lines for the given VMs, for tools that pin host keys. */
export function writeKnownHosts(cfg: LabConfig, entries: Array<{ host: string; publicKey: string }>): void {
  const text = entries.map((e) => `${e.host} ${e.publicKey}\n`).join("");
  writeFileSync(labPaths(cfg).knownHosts, text, { mode: 0o644 });
}

/** ssh argv for a lab VM: batch mode, no host-key prompts (VM keys are lab-made). */
export function sshArgs(server: LabServer, remoteArgv: readonly string[]): string[] {
  return [
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=5",
    "-i", server.sshKey,
    "-p", String(server.port),
    `${server.user}@${server.host}`,
    "--",
    // ssh joins its argv with spaces for the remote shell; quote each word so argv survives.
    ...remoteArgv.map(shellQuote),
  ];
}

export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

export function sshRun(server: LabServer, remoteArgv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return tryRun("ssh", sshArgs(server, remoteArgv), opts);
}
