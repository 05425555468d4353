// Shared set-up for the SSH integration tests: a client against the loopback sshd with its
// own known_hosts and control dir, so files never share a master connection.

import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SshClient, type SshClientOptions } from "../../../src/remote/ssh.js";
import type { TestSshd } from "../../support/sshd.js";

export interface ClientDirs {
  root: string;
  knownHostsFile: string;
  controlDir: string;
  cleanup(): void;
}

/** A private temp area: /tmp/btw-t-XXXXXX/{kh/known_hosts,cm} — short for socket paths. */
export function clientDirs(): ClientDirs {
  const root = mkdtempSync("/tmp/btw-t-");
  return {
    root,
    knownHostsFile: join(root, "kh", "known_hosts"),
    controlDir: join(root, "cm"),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function clientFor(sshd: TestSshd, dirs: ClientDirs, over: Partial<SshClientOptions> = {}): SshClient {
  return new SshClient({
    name: "lab-1",
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.clientKey,
    knownHostsFile: dirs.knownHostsFile,
    controlDir: dirs.controlDir,
    connectTimeoutSec: 5,
    ...over,
  });
}

/** Await a promise that must reject; return what it rejected with. */
export async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string; hint?: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string; hint?: string };
  }
  throw new Error("expected a rejection, got a result");
}

/** How many connections sshd has authenticated so far (LogLevel VERBOSE logs one line each). */
export function acceptedLogins(sshd: TestSshd): number {
  return sshd.log().match(/Accepted publickey for /g)?.length ?? 0;
}
