// ssh-keygen / ssh-keyscan command lines for the btw-managed known_hosts, and parsers for
// their output. Pure; src/remote/known-hosts.ts runs them locally.

/** The name known_hosts files use: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Remove every key for host:port (ssh-keygen keeps a `.old` copy). */
export function forgetHostKeyArgs(knownHostsFile: string, host: string, port: number): string[] {
  return ["ssh-keygen", "-R", knownHostsName(host, port), "-f", knownHostsFile];
}

/** Fingerprints of the keys pinned for host:port; exit 1 when none. */
export function pinnedFingerprintsArgs(knownHostsFile: string, host: string, port: number): string[] {
  return ["ssh-keygen", "-l", "-E", "sha256", "-F", knownHostsName(host, port), "-f", knownHostsFile];
}

/** Ask the server for its host keys (known_hosts lines on stdout). */
export function keyscanArgs(host: string, port: number, timeoutSec = 5): string[] {
  return ["ssh-keyscan", "-T", String(timeoutSec), "-p", String(port), "--", host];
}

/** Fingerprint known_hosts lines read from stdin. */
export function fingerprintStdinArgs(): string[] {
  return ["ssh-keygen", "-l", "-E", "sha256", "-f", "-"];
}

export interface HostKeyFingerprint {
  /** ED25519, ECDSA, RSA … */
  type: string;
  /** SHA256:… */
  fingerprint: string;
}

/**
 * Parse either `ssh-keygen -l -F` lines (`[h]:p ED25519 SHA256:…`) or `ssh-keygen -l -f`
 * lines (`256 SHA256:… [h]:p (ED25519)`); comment lines are skipped.
 */
export function parseFingerprints(stdout: string): HostKeyFingerprint[] {
  const out: HostKeyFingerprint[] = [];
  for (const line of stdout.split("\n")) {
    if (line.startsWith("#")) continue;
    const listed = /^\d+ (SHA256:\S+) .* \((\S+)\)$/.exec(line.trim());
    if (listed) {
      out.push({ type: listed[2]!, fingerprint: listed[1]! });
      continue;
    }
    const found = /^\S+ (\S+) (SHA256:\S+)$/.exec(line.trim());
    if (found) out.push({ type: found[1]!, fingerprint: found[2]! });
  }
  return out;
}
