// Argv for the server's proxy (templates/proxy/compose.yml): its Compose project, joining
// and leaving tenants' edge networks, validating and reloading the Caddyfile. Pure builders.

import { UsageError } from "../../errors.js";
import { PROXY_LAYOUT } from "../proxy/layout.js";
import { tenantLayout } from "../tenant/layout.js";

function proxyComposeBase(): string[] {
  const l = PROXY_LAYOUT;
  return ["docker", "compose", "-p", l.project, "--project-directory", l.dir, "-f", l.composeFile, "--env-file", l.envFile];
}

/** Create or converge the proxy container. */
export function proxyComposeUp(opts: { wait?: boolean } = {}): string[] {
  return [...proxyComposeBase(), "up", "-d", "--remove-orphans", ...(opts.wait ? ["--wait"] : [])];
}

/**
 * The proxy container made (or re-made when its config changed) but not started: it joins the
 * tenants' networks before it serves, so a recreated proxy never answers 502 for a tenant it
 * has not been attached to yet (seen through the edge during a switch).
 */
export function proxyComposeCreate(): string[] {
  return [...proxyComposeBase(), "up", "--no-start", "--remove-orphans"];
}

/** Remove the proxy container and its network; `volumes: true` also drops certificates. */
export function proxyComposeDown(opts: { volumes: boolean }): string[] {
  return [...proxyComposeBase(), "down", "--remove-orphans", ...(opts.volumes ? ["--volumes"] : [])];
}

export function proxyComposePs(): string[] {
  return [...proxyComposeBase(), "ps", "--all", "--format", "json"];
}

export function proxyComposeConfigCheck(): string[] {
  return [...proxyComposeBase(), "config", "--quiet"];
}

/** Attach the proxy to a tenant's edge network (fails if already attached: see isAlreadyConnected). */
export function proxyConnectTenant(slug: string): string[] {
  return ["docker", "network", "connect", tenantLayout(slug).networks.edge, PROXY_LAYOUT.container];
}

/**
 * Detach the proxy from a tenant's edge network, before `compose down` removes it (Docker
 * refuses to remove a network a container still uses). `--force` also works when the proxy
 * container is stopped.
 */
export function proxyDisconnectTenant(slug: string): string[] {
  return ["docker", "network", "disconnect", "--force", tenantLayout(slug).networks.edge, PROXY_LAYOUT.container];
}

/** True when `docker network connect` failed only because the proxy is already attached. */
export function isAlreadyConnected(stderr: string): boolean {
  return /endpoint with name \S+ already exists in network|is already attached to network|already exists in network/i.test(stderr);
}

/** True when `docker network disconnect` failed only because there was nothing to undo. */
export function isNotConnected(stderr: string): boolean {
  return /is not connected to (the )?network|network \S+ not found|No such network/i.test(stderr);
}

/** Check a Caddyfile inside the running proxy (default: the candidate, Caddyfile.next). */
export function caddyValidate(path: string = PROXY_LAYOUT.inContainer.caddyfileNext): string[] {
  return ["docker", "exec", PROXY_LAYOUT.container, "caddy", "validate", "--config", path, "--adapter", "caddyfile"];
}

/**
 * Load /etc/caddy/Caddyfile through Caddy's admin API. Graceful: the new config replaces the
 * old one atomically, open connections finish, other sites never stop serving; a config
 * that fails to load leaves the old one running (and this command exits non-zero).
 */
export function caddyReload(): string[] {
  return ["docker", "exec", PROXY_LAYOUT.container, "caddy", "reload", "--config", PROXY_LAYOUT.inContainer.caddyfile, "--adapter", "caddyfile"];
}

/**
 * Moves an existing proxy container from the network of an older btw (PROXY_LAYOUT.legacyNetwork)
 * to PROXY_LAYOUT.network, live: joined to the new one (which sorts first, so its published
 * ports move there: one re-programming, ~0.2 s), then off the old one. Compose does not recreate
 * a container whose network's name changed (seen with 2.26.1), hence this. The old network
 * stays while the container's network mode names it — Docker looks it up at every `network
 * connect` and start ("could not find a network matching network mode", seen on the lab) — and
 * is made again if it went; it is removed once the proxy was recreated on the new one.
 * Idempotent; nothing to do when there is no proxy container.
 */
export function proxyAdoptNetwork(): string[] {
  return ["sh", "-c", PROXY_ADOPT_NETWORK_SCRIPT, "sh", PROXY_LAYOUT.container, PROXY_LAYOUT.network, PROXY_LAYOUT.legacyNetwork];
}

export const PROXY_ADOPT_NETWORK_SCRIPT = [
  'c="$1"; new="$2"; old="$3"',
  `info=$(docker inspect --type container --format '{{.HostConfig.NetworkMode}}|{{range $k, $v := .NetworkSettings.Networks}} {{$k}}{{end}}' "$c" 2>/dev/null) || exit 0`,
  'mode=${info%%|*}; nets=${info#*|}',
  'case "$nets " in *" $new "*) ;; *) docker network connect "$new" "$c" || exit 1 ;; esac',
  'case "$nets " in *" $old "*) docker network disconnect "$old" "$c" || exit 1 ;; esac',
  'if [ "$mode" = "$old" ]; then',
  '  docker network inspect "$old" >/dev/null 2>&1 || docker network create --label btw.role=proxy "$old" >/dev/null || exit 1',
  'elif docker network inspect "$old" >/dev/null 2>&1; then',
  '  docker network rm "$old" >/dev/null || exit 1',
  "fi",
].join("\n");

/**
 * One round trip for ensureProxy's fast path: the applied marker, the checksums of the two
 * files Compose reads, and the container's state — each on a line of its own
 * (parseProxyState). Prints nothing for what is missing.
 */
export const PROXY_STATE_SCRIPT = `cd "$1" 2>/dev/null || exit 0
printf 'applied %s\\n' "$(cat .applied 2>/dev/null)"
for f in compose.yml .env; do [ -f "$f" ] && printf 'sum %s %s\\n' "$f" "$(sha256sum < "$f" | cut -d' ' -f1)"; done
docker inspect --type container --format 'container {{.State.Running}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.HostConfig.NetworkMode}}' "$2" 2>/dev/null
exit 0`;

export function proxyState(): string[] {
  return ["sh", "-c", PROXY_STATE_SCRIPT, "sh", PROXY_LAYOUT.dir, PROXY_LAYOUT.container];
}

export interface ProxyState {
  applied: string | null;
  sums: Map<string, string>;
  container: { running: boolean; health: string; networkMode: string } | null;
}

export function parseProxyState(stdout: string): ProxyState {
  const state: ProxyState = { applied: null, sums: new Map(), container: null };
  for (const line of stdout.split("\n")) {
    const [kind, ...rest] = line.trim().split(" ");
    if (kind === "applied" && rest.join(" ").trim()) state.applied = rest.join(" ").trim();
    else if (kind === "sum" && rest.length === 2) state.sums.set(rest[0]!, rest[1]!);
    else if (kind === "container" && rest.length === 3) state.container = { running: rest[0] === "true", health: rest[1]!, networkMode: rest[2]! };
  }
  return state;
}

/**
 * True when the proxy needs no Compose run: the running container was brought up from
 * exactly these files (the marker names both checksums, and both files on disk still have
 * them), it is healthy, and it sits on the proxy's own network (no legacy network to adopt).
 */
export function proxyUpToDate(state: ProxyState, want: { compose: string; env: string }): boolean {
  const c = state.container;
  return (
    c !== null &&
    c.running &&
    c.health === "healthy" &&
    c.networkMode === PROXY_LAYOUT.network &&
    state.applied === proxyAppliedMarker(want) &&
    state.sums.get("compose.yml") === want.compose &&
    state.sums.get(".env") === want.env
  );
}

/** What PROXY_LAYOUT.appliedFile holds for these files' checksums. */
export function proxyAppliedMarker(want: { compose: string; env: string }): string {
  return `${want.compose} ${want.env}`;
}

/** The networks the proxy container is attached to, as one JSON object keyed by network name. */
export function proxyAttachedNetworks(): string[] {
  return ["docker", "inspect", "--type", "container", "--format", "{{json .NetworkSettings.Networks}}", PROXY_LAYOUT.container];
}

/** Every network on the server, one name per line. */
export function networkNames(): string[] {
  return ["docker", "network", "ls", "--format", "{{.Name}}"];
}

/** proxyAttachedNetworks' output → network names ([] when the container does not exist). */
export function parseAttachedNetworks(stdout: string): string[] {
  const text = stdout.trim();
  if (text === "" || text === "null") return [];
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" ? Object.keys(v).sort() : [];
  } catch {
    return [];
  }
}

/**
 * Prints the main Caddyfile and every state's files of the proxy's conf dir ($1), each after a
 * line `\x1ebtw-file <name>` (the record separator no rendered file contains); see parseProxyConf.
 */
export const READ_PROXY_CONF_SCRIPT = `cd "$1" 2>/dev/null || exit 0
for f in Caddyfile sites/*.caddy sites/*.metrics; do
  [ -f "$f" ] || continue
  printf '\\036btw-file %s\\n' "$f"
  cat -- "$f"
  printf '\\n'
done`;

export function readProxyConf(): string[] {
  return ["sh", "-c", READ_PROXY_CONF_SCRIPT, "sh", PROXY_LAYOUT.confDir];
}

/** readProxyConf's output → file name (relative to the conf dir) → text. */
export function parseProxyConf(stdout: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const part of stdout.split("\x1ebtw-file ").slice(1)) {
    const nl = part.indexOf("\n");
    const name = part.slice(0, nl);
    // the newline printed after each file
    files.set(name, part.slice(nl + 1).replace(/\n$/, ""));
  }
  return files;
}

/** Exit codes of INSTALL_SITES_SCRIPT besides 0. */
export const INSTALL_SITES_EXIT = { invalid: 3, reloadFailed: 4, busy: 75 } as const;

/**
 * Installs candidates `<name>.next-<$4>` (written beside the live files; $4 the writing
 * state's id, so that two states converging the shared files at once never take each other's
 * candidate) as `<name>` for each name after $4, in that order: under the server-wide lock $1/.lock (btw states share the proxy and
 * not their databases' locks), validates the whole configuration as it will be — a copy of the
 * main file and every state's site file with the candidates in place, in $1/.check.<pid>, run
 * by the proxy container ($2 the conf dir as the container sees it) — then renames each into
 * place and reloads gracefully. A candidate Caddy rejects never becomes live; a reload that
 * fails puts the previous files back. Prints the last line of Caddy's error on stderr.
 */
export const INSTALL_SITES_SCRIPT = `set -eu
conf=$1 inner=$2 container=$3 tag=$4; shift 4
fail() { echo "$2" >&2; exit "$1"; }
exec 9>"$conf/.lock"
flock -w 120 9 || fail ${INSTALL_SITES_EXIT.busy} "$conf/.lock busy for 120 s: another btw is changing this proxy"
check=".check.$$"
trap 'rm -rf "$conf/$check"' EXIT
mkdir -m 700 "$conf/$check" "$conf/$check/sites"
[ ! -f "$conf/Caddyfile" ] || cp -p "$conf/Caddyfile" "$conf/$check/Caddyfile"
for f in "$conf"/sites/*.caddy "$conf"/sites/*.metrics; do [ ! -f "$f" ] || cp -p "$f" "$conf/$check/sites/"; done
for n; do cp -p "$conf/$n.next-$tag" "$conf/$check/$n"; done
if ! out=$(docker exec "$container" caddy validate --config "$inner/$check/Caddyfile" --adapter caddyfile 2>&1 </dev/null); then
  for n; do rm -f "$conf/$n.next-$tag"; done
  fail ${INSTALL_SITES_EXIT.invalid} "$(printf '%s\\n' "$out" | tail -n 1)"
fi
for n; do
  if [ -f "$conf/$n" ]; then cp -p "$conf/$n" "$conf/$n.prev"; else rm -f "$conf/$n.prev"; fi
done
for n; do mv -f "$conf/$n.next-$tag" "$conf/$n"; done
if ! out=$(docker exec "$container" caddy reload --config "$inner/Caddyfile" --adapter caddyfile 2>&1 </dev/null); then
  for n; do if [ -f "$conf/$n.prev" ]; then mv -f "$conf/$n.prev" "$conf/$n"; else rm -f "$conf/$n"; fi; done
  fail ${INSTALL_SITES_EXIT.reloadFailed} "$(printf '%s\\n' "$out" | tail -n 1)"
fi
for n; do rm -f "$conf/$n.prev"; done`;

/**
 * Install the candidates of `names` (relative to the conf dir: "sites/<id>.caddy",
 * "sites/<id>.metrics", "Caddyfile") that state `tag` wrote as `<name>.next-<tag>`.
 */
export function proxyInstallFiles(tag: string, names: readonly string[]): string[] {
  if (!/^[a-z0-9-]+$/.test(tag)) throw new UsageError(`invalid candidate tag ${JSON.stringify(tag)}`, { code: "invalid-path" });
  for (const n of names) {
    if (!/^(Caddyfile|sites\/[a-z0-9-]+\.(caddy|metrics))$/.test(n)) throw new UsageError(`not a proxy file name: ${JSON.stringify(n)}`, { code: "invalid-path" });
  }
  return ["sh", "-c", INSTALL_SITES_SCRIPT, "sh", PROXY_LAYOUT.confDir, PROXY_LAYOUT.inContainer.confDir, PROXY_LAYOUT.container, tag, ...names];
}
