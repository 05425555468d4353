// The proxy's names on a server, in one place (templates/proxy/compose.yml uses the same).

import { UsageError } from "../../errors.js";

export const PROXY_DIR = "/opt/btw/proxy";

export const PROXY_LAYOUT = {
  dir: PROXY_DIR,
  composeFile: `${PROXY_DIR}/compose.yml`,
  envFile: `${PROXY_DIR}/.env`,
  /**
   * `<sha256 of compose.yml> <sha256 of .env>` of the files the running container was last
   * brought up from (written after `compose up --wait` succeeded): with both files unchanged
   * and the container running healthy, a convergence has nothing to do (ensureProxy's fast path).
   */
  appliedFile: `${PROXY_DIR}/.applied`,
  /** mounted read-only at /etc/caddy in the container */
  confDir: `${PROXY_DIR}/conf`,
  caddyfile: `${PROXY_DIR}/conf/Caddyfile`,
  /** where a candidate Caddyfile is written and validated before it replaces the live one */
  caddyfileNext: `${PROXY_DIR}/conf/Caddyfile.next`,
  /**
   * Two files per btw state, imported by the main Caddyfile: `<stateId>.caddy` with that
   * state's tenant sites (`import sites/*.caddy`), `<stateId>.metrics` with their metrics paths
   * (imported inside the metrics listener's site): several btw states can share one server's
   * proxy, each rewriting only its own files. `legacy.caddy` holds sites carried over from the old
   * single-file layout that no state has claimed yet.
   */
  sitesDir: `${PROXY_DIR}/conf/sites`,
  project: "btw-proxy",
  /** the private listener serving /tenants/<name>/metrics (published on the private address only) */
  metricsPort: 9180,
  container: "btw-proxy",
  /**
   * The proxy's own network, where its published ports must stay. Docker puts a container's
   * published ports on its gateway network, picked among equals by network NAME: joined to a
   * tenant's `btw-<slug>-edge` that sorts first, the ports moved there — revoked and
   * re-programmed, refusing every tenant of the server for ~160 ms (measured: 147 refused
   * requests over 10 joins/leaves on the lab) each time that tenant was created, deleted or
   * moved. `btw--` sorts before every tenant network (a tenant name never starts with '-').
   */
  network: "btw--proxy",
  /** the network of btw before 2026-12 (`btw-proxy`), moved off by ensureProxy */
  legacyNetwork: "btw-proxy",
  volumes: { data: "btw-proxy-data", config: "btw-proxy-config" },
  /** the same files as seen inside the container */
  inContainer: { confDir: "/etc/caddy", caddyfile: "/etc/caddy/Caddyfile", caddyfileNext: "/etc/caddy/Caddyfile.next" },
} as const;

/** The name (relative to confDir) of the legacy sites file: no state id (a uuid) looks like it. */
export const LEGACY_SITES = "sites/legacy.caddy";

const STATE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A state's files without their extension (.caddy, .metrics), relative to confDir. Throws on anything but a uuid (it becomes a path). */
export function stateSitesName(stateId: string): string {
  if (!STATE_ID.test(stateId)) throw new UsageError(`invalid state id ${JSON.stringify(stateId)}: expected a uuid`, { code: "invalid-state-id" });
  return `sites/${stateId}`;
}
