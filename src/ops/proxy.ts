import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import {
  caddyReload,
  caddyValidate,
  INSTALL_SITES_EXIT,
  proxyInstallFiles,
  isAlreadyConnected,
  isNotConnected,
  networkNames,
  parseAttachedNetworks,
  proxyAttachedNetworks,
  proxyAdoptNetwork,
  proxyAppliedMarker,
  proxyComposeCreate,
  proxyState,
  parseProxyState,
  proxyUpToDate,
  proxyComposeUp,
  proxyConnectTenant,
  proxyDisconnectTenant,
  parseProxyConf,
  readProxyConf,
} from "../core/commands/proxy.js";
import { privateAddress } from "../core/monitoring/targets.js";
import { planProxyAttach } from "../core/proxy/attach.js";
import { renderMainCaddyfile, renderStateSites } from "../core/proxy/caddyfile.js";
import { planStateSites } from "../core/proxy/sites.js";
import { serverProxyTls } from "../core/edge/mode.js";
import { mainProxySettings } from "../core/proxy/settings.js";
import { publishHost, renderProxyEnv } from "../core/proxy/env.js";
import { edgeGateway } from "../core/tenant/edge-gateway.js";
import { PROXY_LAYOUT, stateSitesName } from "../core/proxy/layout.js";
import { BusyError, OperationError } from "../errors.js";
import type { MasterKey } from "../secrets/master-key.js";
import type { Db, Lock } from "../state/db.js";
import { getServer, type ServerRow } from "../state/servers.js";
import { listTenants } from "../state/tenants.js";
import { asset } from "./assets.js";
import type { Host } from "./host.js";
import { metricsToken } from "./server/secrets.js";

// One Caddy per server, possibly shared by several btw states (two operators' homes, the
// demo and the test suite): its main Caddyfile is rendered from the server's settings alone
// and imports one site file per state (sites/<stateId>.caddy). A state's file is always
// rendered from that state — every live tenant it has on the server — under its proxy lock,
// so concurrent creates on one server cannot lose each other's routes, and it writes only its
// own file: a reload never drops the other tenants' sites, nor another state's.
//
// The same holds for the proxy's attachment to tenants' edge networks: every convergence
// (ensureProxy, syncRoutes) re-derives it from the state and connects what is missing. A
// recreated Caddy container (image or template change) therefore gets every tenant back,
// instead of only the one whose create happened to run `docker network connect`.
//
// Why live `network connect` and not a generated compose override listing the networks:
// Compose hashes a service's networks into its config, so every tenant created or deleted
// would recreate Caddy (a restart for every tenant of the server). Connecting is live.

/**
 * What rendering a server's proxy needs from the command: the config, and the master key that
 * opens the server's metrics token (the listener's credential). A command's Ctx is one.
 */
export interface ProxyCtx {
  config: Config;
  master(): Promise<MasterKey>;
  /** the state's identity: names its site file on the server */
  readonly stateId: string | null;
  /** where a one-time conversion of a server's proxy files is told (a command's Ctx.out) */
  readonly out?: { info(message: string): void };
}

/**
 * The metrics listener on the server's private address (none known: loopback, the template's
 * default). The web listeners stay on every address in both proxy modes: behind the edge the
 * firewall closes their public side (ops/server/isolation.ts), so the switch never recreates
 * the proxy.
 */
function metricsPublish(server: ServerRow, config: Config): { metricsPublish?: string } {
  const a = privateAddress(server);
  if (!a) return {};
  return { metricsPublish: `${publishHost(a)}:${config.monitoring.ports.n8nMetrics}` };
}

/** A server's Caddyfile holds its metrics token: root only (Caddy runs as root in its container). */
const CADDYFILE_MODE = "0600";

function proxyLock(db: Db, serverName: string): Promise<Lock> {
  return db.lock({ kind: "server", name: `${serverName}:proxy` }, { timeoutMs: 60_000 });
}

/** The main Caddyfile: the server's settings only, the same bytes from every state with the same config. */
function mainCaddyfile(config: Config): string {
  return renderMainCaddyfile(mainProxySettings(config));
}

function requireStateId(ctx: ProxyCtx): string {
  if (ctx.stateId === null) {
    throw new OperationError("this btw state has no identity to name its proxy site file", { code: "state-unmigrated", hint: "run `btw db migrate`" });
  }
  return ctx.stateId;
}

/** This state's site file for one server. */
async function stateSitesFor(db: Db, ctx: ProxyCtx, serverId: number, alsoActive: readonly string[] = []): Promise<{ sites: string; metrics: string }> {
  const config = ctx.config;
  // A tenant mid-restore or mid-migration serves the maintenance page, like a suspended one.
  const live = await listTenants(db, { serverId, status: ["active", "suspended", "restoring", "migrating", "upgrading"] });
  const rows = live.map((t) => ({ slug: t.slug, status: t.status === "active" ? ("active" as const) : ("suspended" as const) }));
  const tenants = [...rows.filter((t) => !alsoActive.includes(t.slug)), ...alsoActive.map((slug) => ({ slug, status: "active" as const }))];
  // custom domains (tenant domain add): the same site answers for them, in both proxy modes
  // (behind the edge, the Host header reaches this proxy unchanged)
  const { domainsByTenant } = await import("../state/tenant-domains.js");
  const domains = await domainsByTenant(db, live.map((t) => t.id));
  const idOf = new Map(live.map((t) => [t.slug, t.id]));
  return renderStateSites({
    stateId: requireStateId(ctx),
    ...serverProxyTls(config),
    domain: config.domain,
    tenants: tenants.map((t) => {
      const extra = domains.get(idOf.get(t.slug) ?? -1) ?? [];
      return { slug: t.slug, status: t.status as "active" | "suspended", ...(extra.length ? { extraHosts: extra } : {}) };
    }),
    metrics: {
      port: PROXY_LAYOUT.metricsPort,
      // made on the first render; Prometheus gets it from `monitoring sync`
      token: (await metricsToken(db, await ctx.master(), serverId, { create: true }))!,
      denyFrom: [config.placement.subnetPool],
      // every tenant network on the server can carry the proxy's published ports (one being
      // created included: it is not `live` yet, only `alsoActive`)
      allowFrom: [...new Set((await listTenants(db, { serverId })).flatMap((t) => (t.subnet ? [edgeGateway(t.subnet)] : [])))].sort(),
    },
  });
}

/** Files and container of the proxy; converges (image change, missing container). Idempotent. */
export async function ensureProxy(host: Host, db: Db, ctx: ProxyCtx, serverId: number): Promise<void> {
  const config = ctx.config;
  const server = await getServer(db, serverId);
  if (!server) throw new OperationError(`server #${serverId} is not in the state`, { code: "server-not-found" });
  const lock = await proxyLock(db, server.name);
  try {
    const composeText = asset("templates/proxy/compose.yml");
    const envText = renderProxyEnv({ caddyImage: config.images.caddy, ...metricsPublish(server, config) });
    const want = { compose: sha256(composeText), env: sha256(envText) };
    // Fast path: the running, healthy container came from exactly these files — no Compose
    // run (two of them, ~1 s of CPU on the server), only the tenants' networks to converge.
    const state = await host.run(proxyState(), { allowFailure: true, timeoutMs: 30_000 });
    if (state.exitCode === 0 && proxyUpToDate(parseProxyState(state.stdout), want)) {
      await attachTenantNetworks(host, db, serverId);
      return;
    }
    // The marker goes before the files change, and comes back only after `up --wait`: a run
    // killed anywhere in between leaves no marker, whatever other path (cloud-init, an edge's
    // routes, another state) last brought the container up from other files.
    await host.removeTree(PROXY_LAYOUT.appliedFile);
    await host.mkdir(PROXY_LAYOUT.confDir);
    await Promise.all([host.writeFile(PROXY_LAYOUT.composeFile, composeText), host.writeFile(PROXY_LAYOUT.envFile, envText, "0600")]);
    // The live files are only ever replaced after validation (syncRoutes); a first start needs
    // them. A proxy another state installed keeps its main file until a sync converges it.
    await host.mkdir(PROXY_LAYOUT.sitesDir, "0700");
    const exists = await host.run(["test", "-f", PROXY_LAYOUT.caddyfile], { allowFailure: true });
    if (exists.exitCode !== 0) {
      const ours = await stateSitesFor(db, ctx, serverId);
      const name = stateSitesName(requireStateId(ctx));
      await host.writeFile(`${PROXY_LAYOUT.confDir}/${name}.caddy`, ours.sites, CADDYFILE_MODE);
      await host.writeFile(`${PROXY_LAYOUT.confDir}/${name}.metrics`, ours.metrics, CADDYFILE_MODE);
      await host.writeFile(PROXY_LAYOUT.caddyfile, mainCaddyfile(config), CADDYFILE_MODE);
    }
    // the tenants' networks the proxy is on now, whichever btw state placed them: a recreate
    // (another state's images.caddy, a new template) starts it on none of them
    const before = await host.run(proxyAttachedNetworks(), { allowFailure: true, timeoutMs: 30_000 });
    const prior = before.exitCode === 0 ? parseAttachedNetworks(before.stdout) : [];
    await host.run(proxyComposeCreate(), { timeoutMs: 180_000 });
    await host.run(proxyAdoptNetwork(), { timeoutMs: 60_000 });
    await attachTenantNetworks(host, db, serverId);
    await reattachOthers(host, prior);
    await host.run(proxyComposeUp({ wait: true }), { timeoutMs: 180_000 });
    // only now: a run killed before this point left none, and the next one converges
    await host.writeFile(PROXY_LAYOUT.appliedFile, `${proxyAppliedMarker(want)}\n`);
  } finally {
    await lock.release();
  }
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Joins the proxy to the edge network of every tenant the state places on this server (any
 * status but deleting/deleted) whose network exists. Call under the proxy lock. Returns the tenants
 * it connected (after a recreate: all of them).
 */
export async function attachTenantNetworks(host: Host, db: Db, serverId: number): Promise<string[]> {
  const [tenants, attached, existing] = await Promise.all([
    listTenants(db, { serverId }),
    host.run(proxyAttachedNetworks(), { allowFailure: true, timeoutMs: 30_000 }),
    host.run(networkNames(), { timeoutMs: 30_000 }),
  ]);
  if (attached.exitCode !== 0) {
    throw new OperationError(`the proxy container on ${host.name} does not exist: ${attached.stderr.trim().split("\n").pop()}`, {
      code: "proxy-missing",
      hint: `\`btw server bootstrap ${host.name}\` creates it again`,
    });
  }
  const plan = planProxyAttach({
    // A tenant being deleted is left out: re-attaching it would keep Compose from removing
    // its network (a network in use stays) while its delete runs.
    slugs: tenants.filter((t) => t.status !== "deleting").map((t) => t.slug),
    existing: existing.stdout.split("\n").map((l) => l.trim()).filter(Boolean),
    attached: parseAttachedNetworks(attached.stdout),
  });
  for (const slug of plan.connect) await connectTenant(host, slug);
  return plan.connect;
}

/**
 * After a recreate, the proxy joins again the tenant networks it was on before that this state
 * does not place (another btw state's tenants on the same server): their routes keep working.
 */
async function reattachOthers(host: Host, prior: readonly string[]): Promise<void> {
  const wanted = prior.map((n) => /^btw-([a-z0-9][a-z0-9-]*)-edge$/.exec(n)?.[1]).filter((s): s is string => s !== undefined);
  if (wanted.length === 0) return;
  const now = await host.run(proxyAttachedNetworks(), { allowFailure: true, timeoutMs: 30_000 });
  const attached = new Set(now.exitCode === 0 ? parseAttachedNetworks(now.stdout) : []);
  const existing = new Set((await host.run(networkNames(), { timeoutMs: 30_000 })).stdout.split("\n").map((l) => l.trim()));
  for (const slug of wanted) {
    const net = `btw-${slug}-edge`;
    if (!attached.has(net) && existing.has(net)) await connectTenant(host, slug);
  }
}

export async function connectTenant(host: Host, slug: string): Promise<void> {
  const r = await host.run(proxyConnectTenant(slug), { allowFailure: true });
  if (r.exitCode !== 0 && !isAlreadyConnected(r.stderr)) {
    throw new OperationError(`cannot attach the proxy on ${host.name} to ${slug}'s network: ${r.stderr.trim().split("\n").pop()}`, { code: "proxy-connect" });
  }
}

export async function disconnectTenant(host: Host, slug: string): Promise<void> {
  const r = await host.run(proxyDisconnectTenant(slug), { allowFailure: true });
  if (r.exitCode !== 0 && !isNotConnected(r.stderr)) {
    throw new OperationError(`cannot detach the proxy on ${host.name} from ${slug}'s network: ${r.stderr.trim().split("\n").pop()}`, { code: "proxy-disconnect" });
  }
}

/**
 * Re-renders this state's routes on one server from the state, validates, then reloads
 * gracefully. `alsoActive` routes tenants about to become active (so a crash between the
 * reload and the status change leaves a routed, still-provisioning tenant that a re-run
 * completes). Writes this state's site file only — and the main file when it is missing, in
 * the old single-file layout (migrated: see core/proxy/sites.ts) or rendered from other
 * settings. Refuses (exit 2, nothing written) a host another state's file routes.
 */
export async function syncRoutes(host: Host, db: Db, ctx: ProxyCtx, server: { id: number; name: string }, alsoActive: readonly string[] = []): Promise<void> {
  const lock = await proxyLock(db, server.name);
  try {
    await attachTenantNetworks(host, db, server.id);
    const ours = await stateSitesFor(db, ctx, server.id, alsoActive);
    const read = await host.run(readProxyConf(), { timeoutMs: 30_000 });
    const plan = planStateSites({
      stateId: requireStateId(ctx),
      ours,
      main: mainCaddyfile(ctx.config),
      files: parseProxyConf(read.stdout),
      knownSlugs: (await listTenants(db, { serverId: server.id, includeDeleted: true })).map((t) => t.slug),
      domain: ctx.config.domain,
      server: server.name,
    });
    await installProxyFiles(host, server.name, requireStateId(ctx), plan.writes);
    if (plan.migrated) ctx.out?.info(plan.migrated);
  } finally {
    await lock.release();
  }
}

/**
 * Candidates → one `caddy validate` of the whole configuration (every state's files, these in
 * place) → live files → graceful reload, under the server-wide lock on the proxy's conf dir
 * (INSTALL_SITES_SCRIPT). With nothing to write it still validates and reloads: a run killed
 * between renaming its files into place and the reload left them live but not loaded, and
 * the re-run, finding them as rendered, must still load them. Call under the proxy's lock.
 */
async function installProxyFiles(host: Host, serverName: string, stateId: string, writes: ReadonlyArray<{ name: string; text: string }>): Promise<void> {
  await host.mkdir(PROXY_LAYOUT.sitesDir, "0700");
  for (const w of writes) await host.writeFile(`${PROXY_LAYOUT.confDir}/${w.name}.next-${stateId}`, w.text, CADDYFILE_MODE);
  const r = await host.run(proxyInstallFiles(stateId, writes.map((w) => w.name)), { allowFailure: true, timeoutMs: 240_000 });
  if (r.exitCode === 0) return;
  const why = r.stderr.trim().split("\n").pop() ?? "";
  if (r.exitCode === INSTALL_SITES_EXIT.busy) throw new BusyError(`the proxy on ${serverName}: ${why}`, { hint: "run the command again" });
  if (r.exitCode === INSTALL_SITES_EXIT.invalid) {
    throw new OperationError(`the rendered proxy configuration for ${serverName} does not validate: ${why}`, {
      code: "proxy-config-invalid",
      hint: "the running proxy keeps its previous routes; please report this",
    });
  }
  if (r.exitCode === INSTALL_SITES_EXIT.reloadFailed) {
    throw new OperationError(`the proxy on ${serverName} did not reload its routes: ${why}`, {
      code: "proxy-reload",
      hint: "its previous files are back in place; `btw server check` tells whether the proxy runs",
    });
  }
  throw new OperationError(`installing the proxy's files on ${serverName} failed: ${why}`, {
    code: "proxy-install",
    hint: "the running proxy keeps the routes it had; re-run the command",
  });
}

/**
 * Candidate → `caddy validate` → live file → graceful `caddy reload`, in the btw-proxy
 * container of a tenant server or of an edge server (the same layout on both). A candidate
 * that does not validate leaves the running proxy on its previous routes. Call under the
 * proxy's lock.
 */
export async function installCaddyfile(host: Host, serverName: string, text: string): Promise<void> {
  await host.writeFile(PROXY_LAYOUT.caddyfileNext, text, CADDYFILE_MODE);
  const valid = await host.run(caddyValidate(), { allowFailure: true });
  if (valid.exitCode !== 0) {
    throw new OperationError(`the rendered Caddyfile for ${serverName} does not validate: ${valid.stderr.trim().split("\n").pop()}`, {
      code: "proxy-config-invalid",
      hint: "the running proxy keeps its previous routes; please report this",
    });
  }
  await host.writeFile(PROXY_LAYOUT.caddyfile, text, CADDYFILE_MODE);
  await host.run(caddyReload(), { timeoutMs: 60_000 });
}
