import { createHash } from "node:crypto";
import { knownHostsName } from "../commands/known-hosts.js";

// Host keys pinned in the central state (011_host_keys.sql) and the known_hosts text OpenSSH
// reads, rendered from them. Pure.

export interface HostKey {
  /** ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa … */
  type: string;
  /** the public key blob, base64 */
  key: string;
}

export interface HostKeyPin extends HostKey {
  host: string;
  port: number;
}

const TYPE = /^[a-z0-9@.-]+$/;
const BLOB = /^[A-Za-z0-9+/]+={0,2}$/;
export const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** OpenSSH's SHA256 fingerprint of a key: base64 of the blob's sha256, no padding. */
export function fingerprintOf(key: string): string {
  return `SHA256:${createHash("sha256").update(Buffer.from(key, "base64")).digest("base64").replace(/=+$/, "")}`;
}

/**
 * The keys for host:port in known_hosts text (ssh-keyscan output or a known_hosts file):
 * plain names only — hashed entries and @cert-authority/@revoked markers are skipped.
 */
export function parseKnownHosts(text: string, host: string, port: number): HostKey[] {
  const name = knownHostsName(host, port);
  const out: HostKey[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("@") || line.startsWith("|")) continue;
    const [names, type, key] = line.split(/\s+/);
    if (!names || !type || !key || !TYPE.test(type) || !BLOB.test(key)) continue;
    if (!names.split(",").includes(name)) continue;
    if (!out.some((k) => k.type === type && k.key === key)) out.push({ type, key });
  }
  return out;
}

/** One line per pin, sorted: the file ssh reads with StrictHostKeyChecking=yes. */
export function renderKnownHosts(pins: readonly HostKeyPin[]): string {
  return pins
    .map((p) => `${knownHostsName(p.host, p.port)} ${p.type} ${p.key}`)
    .sort()
    .map((l) => `${l}\n`)
    .join("");
}
