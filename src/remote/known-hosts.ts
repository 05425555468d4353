// The btw-managed known_hosts file: forget a pinned key (`btw server trust`), list pinned
// fingerprints, scan what a server presents now. Runs ssh-keygen/ssh-keyscan locally.

import { existsSync } from "node:fs";
import { execa } from "execa";
import {
  fingerprintStdinArgs,
  forgetHostKeyArgs,
  keyscanArgs,
  parseFingerprints,
  pinnedFingerprintsArgs,
  type HostKeyFingerprint,
} from "../core/commands/known-hosts.js";
import { parseKnownHosts, type HostKey } from "../core/server/host-keys.js";
import { OperationError } from "../errors.js";

export type { HostKeyFingerprint } from "../core/commands/known-hosts.js";

async function run(argv: string[], input?: string) {
  const [cmd, ...args] = argv;
  return execa(cmd!, args, { reject: false, ...(input === undefined ? { stdin: "ignore" as const } : { input }) });
}

/** Remove every key pinned for host:port. Resolves true if one was removed. */
export async function forgetHostKey(knownHostsFile: string, host: string, port: number): Promise<boolean> {
  if (!existsSync(knownHostsFile)) return false;
  const r = await run(forgetHostKeyArgs(knownHostsFile, host, port));
  if (r.exitCode !== 0) {
    throw new OperationError(`could not update ${knownHostsFile}: ${r.stderr.trim().split("\n").at(-1)}`, {
      code: "known-hosts",
    });
  }
  return /found/.test(r.stdout);
}

/** Fingerprints pinned for host:port in the btw known_hosts; [] when none. */
export async function fingerprint(knownHostsFile: string, host: string, port: number): Promise<HostKeyFingerprint[]> {
  if (!existsSync(knownHostsFile)) return [];
  const r = await run(pinnedFingerprintsArgs(knownHostsFile, host, port));
  return r.exitCode === 0 ? parseFingerprints(r.stdout) : [];
}

/** The host keys the server presents now (ssh-keyscan); [] if it did not answer. */
export async function scanHostKeys(host: string, port: number, timeoutSec = 5): Promise<HostKey[]> {
  const scan = await run(keyscanArgs(host, port, timeoutSec));
  return parseKnownHosts(scan.stdout, host, port);
}

/** The host keys the server presents now (ssh-keyscan), as fingerprints; [] if it did not answer. */
export async function scanHostKey(host: string, port: number, timeoutSec = 5): Promise<HostKeyFingerprint[]> {
  const scan = await run(keyscanArgs(host, port, timeoutSec));
  const lines = scan.stdout.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
  if (lines.length === 0) return [];
  const fp = await run(fingerprintStdinArgs(), `${lines.join("\n")}\n`);
  return parseFingerprints(fp.stdout);
}
