// Who holds a lock, in a form another btw process can print: "pid 1234 on host h
// (btw tenant create acme)". With pg this travels in application_name; with PGlite in the
// store's lock file.

import os from "node:os";

export interface Holder {
  pid: number;
  host: string;
  /** the btw command line without "btw", e.g. "tenant create acme" */
  command?: string;
  /** ISO time the lock (or the session holding it) was taken, when known */
  since?: string;
  /** set when the holder is not btw but some other PostgreSQL session: its application_name */
  application?: string;
}

export function currentHolder(command?: string): Holder {
  return { pid: process.pid, host: os.hostname(), ...(command ? { command } : {}) };
}

// PostgreSQL truncates application_name to NAMEDATALEN-1 bytes and replaces non-ASCII.
const APP_NAME_MAX = 63;

export function formatApplicationName(h: Holder): string {
  const base = `btw:${h.pid}@${h.host}`;
  const full = h.command ? `${base}:${h.command}` : base;
  return full.replace(/[^\x20-\x7e]/g, "?").slice(0, APP_NAME_MAX);
}

export function parseApplicationName(name: string | null | undefined): Holder | null {
  const m = /^btw:(\d+)@([^:]*)(?::(.*))?$/.exec(name ?? "");
  if (!m) return null;
  return { pid: Number(m[1]), host: m[2] ?? "", ...(m[3] ? { command: m[3] } : {}) };
}

/** "pid 1234 on host h (btw tenant create acme) since 2026-…" — host omitted when it is ours. */
export function describeHolder(h: Holder, opts: { localHost?: string } = {}): string {
  const since = h.since ? ` since ${h.since}` : "";
  if (h.application !== undefined) {
    const app = h.application ? ` (application '${h.application}')` : "";
    return `PostgreSQL session pid ${h.pid}${app}${since}`;
  }
  const localHost = opts.localHost ?? os.hostname();
  let s = `pid ${h.pid}`;
  if (h.host && h.host !== localHost) s += ` on host ${h.host}`;
  if (h.command) s += ` (btw ${h.command})`;
  return s + since;
}
