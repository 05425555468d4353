import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Ctx } from "../cli/context.js";
import { fingerprintOf, parseKnownHosts, renderKnownHosts } from "../core/server/host-keys.js";
import type { Queryable } from "../state/db.js";
import { listHostKeys, pinFirstContact } from "../state/host-keys.js";

// Host keys are shared state (011_host_keys.sql). OpenSSH needs a known_hosts FILE, so each
// process renders one from the state (in its private control directory) and connects with
// StrictHostKeyChecking=yes. A host with no pin yet is met once, here: its keys are scanned
// and pinned for every operator — or taken from this host's former $BTW_HOME/known_hosts, so
// an upgrade keeps the keys it had already pinned.

export function legacyKnownHostsFile(home: string): string {
  return join(home, "known_hosts");
}

export async function ensureHostPinned(ctx: Ctx, q: Queryable, target: { name: string; host: string; port: number }): Promise<void> {
  if ((await listHostKeys(q, target)).length > 0) return;
  const legacy = legacyKnownHostsFile(ctx.home);
  const known = existsSync(legacy) ? parseKnownHosts(readFileSync(legacy, "utf8"), target.host, target.port) : [];
  if (known.length > 0) {
    await pinFirstContact(q, target.host, target.port, known, "imported");
    return;
  }
  const { scanHostKeys } = await import("../remote/known-hosts.js");
  const scanned = await scanHostKeys(target.host, target.port);
  if (scanned.length === 0) return; // unreachable: the connection attempt says so
  const pins = await pinFirstContact(q, target.host, target.port, scanned);
  ctx.out.verbose(`first contact with ${target.name}: pinned ${pins.map((p) => `${p.type} ${fingerprintOf(p.key)}`).join(", ")}`);
}

/** Writes the state's pins (all servers: one file per process) to `file`, atomically. */
export async function renderKnownHostsFile(q: Queryable, file: string): Promise<void> {
  const text = renderKnownHosts(await listHostKeys(q));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
