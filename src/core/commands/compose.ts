// `docker compose` argv for a tenant's stack, run on its server. Every command names the
// project, directory, file and env file explicitly, so nothing depends on the remote cwd.
// Pure builders: values are separate argv words, quoted later by core/shell.ts.

import { UsageError } from "../../errors.js";
import { cpuShares, formatCpus, formatMemory } from "../tenant/env.js";
import {
  TENANT_PROFILES,
  TENANT_SERVICES,
  TENANTS_ROOT,
  tenantLayout,
  type TenantProfile,
  type TenantService,
} from "../tenant/layout.js";

/** `docker compose -p … --project-directory … -f … --env-file …` for one tenant. */
export function composeBase(slug: string): string[] {
  const l = tenantLayout(slug);
  return ["docker", "compose", "-p", l.project, "--project-directory", l.dir, "-f", l.composeFile, "--env-file", l.envFile];
}

function profileArgs(profiles: readonly string[]): string[] {
  const unknown = profiles.filter((p) => !(TENANT_PROFILES as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw new UsageError(`unknown Compose profile '${unknown[0]}' (known: ${TENANT_PROFILES.join(", ")})`, { code: "invalid-profile" });
  }
  return [...new Set(profiles)].sort().flatMap((p) => ["--profile", p]);
}

// Commands that only look at or tear down what exists enable every profile, so a worker
// container is seen (and removed) whatever the tenant's current plan says.
function everything(slug: string): string[] {
  return [...composeBase(slug), ...profileArgs(TENANT_PROFILES)];
}

function requireService(service: string): TenantService {
  if (!(TENANT_SERVICES as readonly string[]).includes(service)) {
    throw new UsageError(`unknown service '${service}' (known: ${TENANT_SERVICES.join(", ")})`, { code: "invalid-service" });
  }
  return service as TenantService;
}

/** The profiles a tenant's plan needs: `queue` adds the worker. */
export function tenantProfiles(plan: { queueMode: boolean }): TenantProfile[] {
  return plan.queueMode ? ["queue"] : [];
}

export interface ComposeUpOptions {
  /**
   * tenantProfiles(plan). With none, Compose falls back to COMPOSE_PROFILES from the .env
   * (which env.ts writes from the same plan). Leaving queue mode: `up` does not remove the
   * worker (a disabled profile's container is not an orphan), composeRm does.
   */
  profiles: readonly TenantProfile[];
  /** wait for every service to be healthy; a number is the timeout in seconds */
  wait?: boolean | number;
  /** `--pull never`: fail rather than fetch an image that is not already on the server */
  pullNever?: boolean;
  /** only these services (and what they depend on); default all */
  services?: readonly TenantService[];
}

/** Create or converge the stack; containers of services no longer defined are removed. */
export function composeUp(slug: string, opts: ComposeUpOptions): string[] {
  const argv = [...composeBase(slug), ...profileArgs(opts.profiles), "up", "-d", "--remove-orphans"];
  if (opts.pullNever) argv.push("--pull", "never");
  if (opts.wait !== undefined && opts.wait !== false) {
    argv.push("--wait");
    if (typeof opts.wait === "number") argv.push("--wait-timeout", String(positiveInt("wait timeout", opts.wait)));
  }
  return [...argv, ...(opts.services ?? []).map(requireService)];
}

/** Create the stack's networks, volumes and containers (pulling missing images) without starting them. */
export function composeCreate(slug: string, opts: { profiles: readonly TenantProfile[] }): string[] {
  return [...composeBase(slug), ...profileArgs(opts.profiles), "up", "--no-start", "--remove-orphans"];
}

/** Pull the stack's images (quietly) before `up`, e.g. to time or retry it separately. */
export function composePull(slug: string, opts: { profiles: readonly TenantProfile[] }): string[] {
  return [...composeBase(slug), ...profileArgs(opts.profiles), "pull", "--quiet"];
}

/**
 * Remove containers and networks; `volumes: true` also deletes the tenant's data. Detach the
 * proxy first (proxyDisconnectTenant): Compose leaves a network in use in place.
 */
export function composeDown(slug: string, opts: { volumes: boolean }): string[] {
  const argv = [...everything(slug), "down", "--remove-orphans"];
  if (opts.volumes) argv.push("--volumes");
  return argv;
}

/** All of the project's containers, running or not, one JSON object per line (Compose ≥ 2.21). */
export function composePs(slug: string): string[] {
  return [...everything(slug), "ps", "--all", "--format", "json"];
}

/** Stop containers (all, or the named services), keeping them and their data. */
export function composeStop(slug: string, opts: { services?: readonly TenantService[]; timeoutSec?: number } = {}): string[] {
  const argv = [...everything(slug), "stop"];
  if (opts.timeoutSec !== undefined) argv.push("--timeout", String(positiveInt("stop timeout", opts.timeoutSec)));
  return [...argv, ...(opts.services ?? []).map(requireService)];
}

/** Start existing containers again (after composeStop). */
export function composeStart(slug: string, opts: { profiles: readonly TenantProfile[]; services?: readonly TenantService[] }): string[] {
  return [...composeBase(slug), ...profileArgs(opts.profiles), "start", ...(opts.services ?? []).map(requireService)];
}

/** Stop and remove the named services' containers (e.g. the worker after leaving queue mode). */
export function composeRm(slug: string, services: readonly TenantService[]): string[] {
  if (services.length === 0) throw new UsageError("composeRm needs at least one service", { code: "invalid-service" });
  return [...everything(slug), "rm", "--stop", "--force", ...services.map(requireService)];
}

export interface ComposeLogsOptions {
  service?: TenantService;
  /** Docker's --since: a duration like 10m or 2h, or an RFC 3339 / Unix timestamp */
  since?: string;
  tail?: number;
  follow?: boolean;
  timestamps?: boolean;
}

const SINCE = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$|^\d+(\.\d+)?$/;

/** Service logs. (Compose 2.26 prefixes lines with ESC[2K even with --no-color: strip it.) */
export function composeLogs(slug: string, opts: ComposeLogsOptions = {}): string[] {
  const argv = [...everything(slug), "logs", "--no-color"];
  if (opts.since !== undefined) {
    if (!SINCE.test(opts.since)) {
      throw new UsageError(`invalid --since '${opts.since}': use a duration like 10m or 2h, or a timestamp like 2025-01-31T12:00:00Z`, {
        code: "invalid-since",
      });
    }
    // `--flag=value`: a value can never be read as another flag.
    argv.push(`--since=${opts.since}`);
  }
  if (opts.tail !== undefined) {
    if (!Number.isInteger(opts.tail) || opts.tail < 0) throw new UsageError(`invalid --tail ${opts.tail}: use a count ≥ 0`, { code: "invalid-tail" });
    argv.push(`--tail=${opts.tail}`);
  }
  if (opts.timestamps) argv.push("--timestamps");
  if (opts.follow) argv.push("--follow");
  if (opts.service !== undefined) argv.push(requireService(opts.service));
  return argv;
}

export interface ComposeExecOptions {
  /** allocate a TTY (interactive use); without it `-T`, for pipes and scripts */
  tty?: boolean;
  user?: string;
}

/**
 * Run `argv` in a service's running container. Compose stops reading its own flags at the
 * service name, so `argv` may start with `-`.
 */
export function composeExec(slug: string, service: TenantService, argv: readonly string[], opts: ComposeExecOptions = {}): string[] {
  if (argv.length === 0) throw new UsageError("nothing to run: give a command after --", { code: "invalid-exec" });
  const out = [...everything(slug), "exec"];
  if (!opts.tty) out.push("-T");
  if (opts.user !== undefined) {
    if (!/^[a-z_][a-z0-9_-]*$|^\d+(:\d+)?$/.test(opts.user)) throw new UsageError(`invalid user '${opts.user}'`, { code: "invalid-exec" });
    out.push("--user", opts.user);
  }
  return [...out, requireService(service), ...argv];
}

/** Parse and interpolate compose.yml with its .env; exits non-zero (message on stderr) when wrong. */
export function composeConfigCheck(slug: string): string[] {
  return [...everything(slug), "config", "--quiet"];
}

export interface ContainerLimits {
  cpus: number;
  cpuReserved?: number | undefined;
  memoryMb: number;
  pids: number;
}

/** `docker update` of a container that does not exist (the only failure set-plan forgives for a runner). */
export function isNoSuchContainer(stderr: string): boolean {
  return /No such container/i.test(stderr);
}

/**
 * Apply new limits to a running container in place (`tenant set-plan`). Swap equals memory:
 * no swap, as compose.yml's memswap_limit. The .env must be rewritten too, or the next
 * `up` would recreate the container with the old values; with both, `up` still recreates
 * it once (its config hash changed), which only restarts it.
 */
export function dockerUpdateLimits(container: string, limits: ContainerLimits): string[] {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(container)) throw new UsageError(`invalid container name '${container}'`, { code: "invalid-container" });
  const memory = formatMemory(limits.memoryMb);
  const pids = positiveInt("pids limit", limits.pids);
  return ["docker", "update", "--cpus", formatCpus(limits.cpus), "--cpu-shares", cpuShares(limits), "--memory", memory, "--memory-swap", memory, "--pids-limit", String(pids), container];
}

function positiveInt(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid ${what} ${n}: use a whole number ≥ 1`, { code: "invalid-argument" });
  return n;
}

/**
 * The project (`-p`) of a tenant's `docker compose … up` argv (create or converge: its
 * project directory is under TENANTS_ROOT), else undefined. Only a tenant's: a tenant's stack
 * changes under its tenant lock alone, so an `up` still running there is a killed btw's. The
 * proxy and the exporters are shared with other btw states, whose locks are not ours.
 */
export function tenantComposeUpProject(argv: readonly string[]): string | undefined {
  if (argv[0] !== "docker" || argv[1] !== "compose" || !argv.includes("up")) return undefined;
  const d = argv.indexOf("--project-directory");
  const dir = d >= 0 ? argv[d + 1] : undefined;
  const p = argv.indexOf("-p");
  return p >= 0 && dir?.startsWith(`${TENANTS_ROOT}/`) ? argv[p + 1] : undefined;
}

// $1: the project. "[c]ompose" matches the command line of Compose (the docker CLI and its
// plugin) but not this script's own, nor the shell that runs it. TERM first (Compose cancels
// what it is doing), KILL after 10 s (no pkill on the server: no stray is looked for). Then a
// container left under a recreate's temporary name gets its name back (below).
export const STOP_STRAY_COMPOSE_UP_SCRIPT = `if command -v pkill >/dev/null 2>&1; then
  p="[c]ompose -p $1 .* up "
  if pkill -TERM -f -- "$p"; then
    i=0
    while pgrep -f -- "$p" >/dev/null; do
      i=$((i + 1))
      if [ "$i" -ge 100 ]; then pkill -KILL -f -- "$p"; sleep 0.2; break; fi
      sleep 0.1
    done
  fi
fi
docker ps -a --filter "label=com.docker.compose.project=$1" --format '{{.Names}}' | while read -r n; do
  case "$n" in
    ${"[0-9a-f]".repeat(12)}_?*)
      c=\${n#*_}
      if docker container inspect "$c" >/dev/null 2>&1; then docker rm -f "$n" >/dev/null; else docker rename "$n" "$c"; fi
      echo "btw: put back $c (left as $n by an interrupted recreate)" >&2
      ;;
  esac
done
exit 0`;

/**
 * End any \`docker compose -p <project> … up\` still running on the server, and mend what an
 * interrupted one left. Killing btw does not end the remote command it was waiting on: ssh
 * carries no hangup without a TTY, and an \`up --wait\` writes nothing until a container
 * changes state, so it lives on (CI of stop 31: a restore killed while its stack started,
 * then \`--rollback\`). Two \`up\`s of one project at once race on the same containers: each
 * recreates them under the same temporary name, both fail, and a container is left under
 * that name. Under the tenant's lock an \`up\` still running is such a leftover.
 *
 * An \`up\` ended between its two renames of a recreate (the old container stopped and renamed
 * \`<12 hex of its id>_<name>\`, the new one not yet created) leaves only the renamed one, and
 * the next \`up\` starts it under that name (Compose 2.26, tried on the lab; CI of fa0c534:
 * \`80228cd61ec3_btw-ds-rst-runner running\`), where every \`docker exec btw-<slug>-…\` misses
 * it. So such a container gets its name back, or goes when a container holds the name (what
 * Compose's recreate does next: the new container replaces it; volumes are not removed).
 */
export function stopStrayComposeUp(project: string): string[] {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project)) throw new UsageError(`not a Compose project name: '${project}'`, { code: "invalid-argument" });
  return ["sh", "-c", STOP_STRAY_COMPOSE_UP_SCRIPT, "sh", project];
}
