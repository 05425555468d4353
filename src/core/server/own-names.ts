// The names btw takes on a server for itself: its own Compose projects (the proxy, the
// monitoring exporters, the monitoring stack), their Docker names, and its directories under
// /opt/btw. A tenant is the project `btw-<slug>` (containers, networks and volumes
// `btw-<slug>-…`), so a tenant named after one of these would be handed btw's own project:
// `tenant create exporters` took over the exporters (issue 22). names.ts reserves them all;
// test/unit/core/own-names.test.ts finds every such name in the sources and templates and
// checks that no tenant name reaches it.

import { EXPORTERS_LAYOUT, STACK_PROJECT } from "../monitoring/deploy-plan.js";
import { MONITORING_LAYOUT } from "../monitoring/sync-plan.js";
import { PROXY_LAYOUT } from "../proxy/layout.js";
import { PREPARED_ROOT } from "../tenant/prepared-db.js";
import { ISOLATION_LAYOUT } from "./isolation.js";

/** btw's own Compose projects on a server. */
export const OWN_PROJECTS: readonly string[] = [PROXY_LAYOUT.project, EXPORTERS_LAYOUT.project, STACK_PROJECT];

/** Containers, networks and volumes of those projects that carry a fixed name. */
export const OWN_DOCKER_NAMES: readonly string[] = [
  PROXY_LAYOUT.container,
  PROXY_LAYOUT.network,
  PROXY_LAYOUT.legacyNetwork,
  ...Object.values(PROXY_LAYOUT.volumes),
  MONITORING_LAYOUT.prometheusContainer,
];

/**
 * btw's directories under /opt/btw. `tenants` (TENANTS_ROOT) and `bin` (cloud-init's
 * bootstrap script) are written out: their modules import names.ts, or YAML.
 */
export const OWN_DIRS: readonly string[] = [PROXY_LAYOUT.dir, EXPORTERS_LAYOUT.dir, MONITORING_LAYOUT.dir, ISOLATION_LAYOUT.dir, PREPARED_ROOT, "/opt/btw/tenants", "/opt/btw/bin"];

/** Each name a tenant may not take, with whose it is: `btw-<name>` of the above, or a directory's own name. */
export function ownNames(): ReadonlyMap<string, string> {
  const owners = new Map<string, string>();
  const take = (name: string, whose: string) => void (owners.has(name) || owners.set(name, whose));
  const rest = (dockerName: string) => dockerName.replace(/^btw-/, "");
  for (const p of OWN_PROJECTS) take(rest(p), `btw's own Compose project ${p}`);
  for (const n of OWN_DOCKER_NAMES) take(rest(n), `btw's own ${n}`);
  for (const d of OWN_DIRS) take(d.slice(d.lastIndexOf("/") + 1), `btw's own directory ${d}`);
  return owners;
}
