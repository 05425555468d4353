// Several btw states on one server's proxy: what one state may write, decided from the files
// already there. Pure: the flow (src/ops/proxy.ts) reads the files and applies the plan.
//
// A state writes only its own files, sites/<its id>.caddy and .metrics, plus the main Caddyfile when it is missing, in the
// old single-file layout, or differs from the server's settings. Two more rules:
// - a host another state's file already routes is refused (one host, one state);
// - migration: an old single-file Caddyfile holds the sites of whichever state rendered it
//   last, and nothing in it says which state a site came from. Its tenant sites move to
//   sites/legacy.caddy (never dropped: they may be another state's, still serving); each
//   state then takes out of that file the sites of its own tenants (a host it routes now, or
//   a tenant name it has on this server in any status) when it writes its own file. The old
//   file's metrics paths are not carried: a state's tenants get theirs back with its first sync.

import { ConflictError } from "../../errors.js";
import { SITES_IMPORT } from "./caddyfile.js";
import { LEGACY_SITES, stateSitesName } from "./layout.js";

/** A top-level block of a Caddyfile: its address line (without ` {`), its text with the comments above it. */
export interface CaddyBlock {
  address: string;
  text: string;
}

/** Top-level blocks of a Caddyfile as btw renders them (one directive per line, `}` alone closing a block). */
export function caddyBlocks(text: string): CaddyBlock[] {
  const blocks: CaddyBlock[] = [];
  let pending: string[] = [];
  let current: { address: string; lines: string[]; depth: number } | null = null;
  for (const line of text.split("\n")) {
    if (current) {
      current.lines.push(line);
      const t = line.trim();
      if (t.endsWith("{")) current.depth++;
      else if (t === "}") current.depth--;
      if (current.depth === 0) {
        blocks.push({ address: current.address, text: current.lines.join("\n") });
        current = null;
      }
    } else if (line.startsWith("#")) pending.push(line);
    else if (line.trim() === "") pending = [];
    else if (line.trimEnd().endsWith("{")) {
      current = { address: line.trimEnd().slice(0, -1).trim(), lines: [...pending, line], depth: 1 };
      pending = [];
    } else pending = [];
  }
  return blocks;
}

/** The host names a site address serves (`http://a.example.com, b.example.com` → both); none for `http://`, `:9180/…`, snippets, global options. */
export function addressHosts(address: string): string[] {
  if (address === "" || address.startsWith("(")) return [];
  return address
    .split(",")
    .map((a) => a.trim().replace(/^https?:\/\//, "").replace(/\/.*$/, "").replace(/:\d+$/, "").toLowerCase())
    .filter((h) => h !== "" && !h.startsWith(":"));
}

/** Every host a site file routes. */
export function routedHosts(text: string): string[] {
  return caddyBlocks(text).flatMap((b) => addressHosts(b.address));
}

/** True when the main Caddyfile predates per-state site files (it has no `import sites/*.caddy`). */
export function isSingleFileLayout(main: string): boolean {
  return !main.split("\n").some((l) => l.trim() === SITES_IMPORT);
}

export interface SitesPlanInput {
  /** this state's id, and its files as just rendered (renderStateSites) */
  stateId: string;
  ours: { sites: string; metrics: string };
  /** the main Caddyfile as rendered from the server's settings */
  main: string;
  /** the files on the server now, by name relative to the conf dir ("Caddyfile", "sites/….caddy") */
  files: ReadonlyMap<string, string>;
  /** the tenant names this state has on this server, any status (their legacy sites are its to drop) */
  knownSlugs: readonly string[];
  domain: string;
  server: string;
}

export interface SitesPlan {
  /** files to replace, in the order to install them (so that no step routes a host twice) */
  writes: Array<{ name: string; text: string }>;
  /** a one-line account of a migration from the single-file layout, when this run makes it */
  migrated?: string;
}

const LEGACY_HEADER = [
  "# btw proxy: sites carried over from the single-file Caddyfile that no btw state has claimed yet.",
  "# Each state takes its own tenants' sites out of this file when it next writes its routes.",
];

/** What this state writes. Throws ConflictError when another state's file routes one of its hosts. */
export function planStateSites(i: SitesPlanInput): SitesPlan {
  const ownName = `${stateSitesName(i.stateId)}.caddy`;
  const ownMetrics = `${stateSitesName(i.stateId)}.metrics`;
  const ourHosts = new Set(routedHosts(i.ours.sites));
  for (const [name, text] of [...i.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!name.startsWith("sites/") || !name.endsWith(".caddy") || name === ownName || name === LEGACY_SITES) continue;
    const taken = routedHosts(text).find((h) => ourHosts.has(h));
    if (taken !== undefined) {
      throw new ConflictError(`host ${taken} is already routed on ${i.server} by another btw state (${name.slice("sites/".length, -".caddy".length)})`, {
        code: "proxy-host-taken",
        hint: "one host, one btw state: remove it from that state (tenant delete, tenant domain remove) or use another name",
      });
    }
  }

  const liveMain = i.files.get("Caddyfile");
  let legacy = i.files.get(LEGACY_SITES);
  let migrated: string | undefined;
  if (liveMain !== undefined && isSingleFileLayout(liveMain)) {
    const carried = caddyBlocks(liveMain).filter((b) => addressHosts(b.address).length > 0);
    legacy = [legacy ?? LEGACY_HEADER.join("\n"), ...carried.map((b) => b.text)].join("\n\n") + "\n";
    migrated = `the proxy on ${i.server} moved to one site file per btw state (${carried.length} site blocks of the old Caddyfile kept until their state claims them)`;
  }

  const writes: SitesPlan["writes"] = [];
  if (legacy !== undefined) {
    const known = new Set(i.knownSlugs.map((s) => `${s}.${i.domain}`.toLowerCase()));
    const blocks = caddyBlocks(legacy).filter((b) => addressHosts(b.address).length > 0);
    const keep = blocks.filter((b) => {
      const hosts = addressHosts(b.address);
      return !hosts.some((h) => ourHosts.has(h)) && !known.has(hosts[0]!);
    });
    const next = `${[LEGACY_HEADER.join("\n"), ...keep.map((b) => b.text)].join("\n\n")}\n`;
    if (next !== i.files.get(LEGACY_SITES)) writes.push({ name: LEGACY_SITES, text: next });
  }
  if (i.ours.sites !== i.files.get(ownName)) writes.push({ name: ownName, text: i.ours.sites });
  if (i.ours.metrics !== i.files.get(ownMetrics)) writes.push({ name: ownMetrics, text: i.ours.metrics });
  if (i.main !== liveMain) writes.push({ name: "Caddyfile", text: i.main });
  return { writes, ...(migrated ? { migrated } : {}) };
}
