// The platform stack as plain data, decided from the config: what `stacks/` turns into
// Terraform resources. Pure, so every decision (names, labels, addresses, rules, user data)
// is tested without cdktn.

import type { Config } from "../../config/schema.js";
import { ConfigError } from "../../errors.js";
import { proxyComposeUp } from "../commands/proxy.js";
import { renderMainCaddyfile } from "../proxy/caddyfile.js";
import { renderProxyEnv } from "../proxy/env.js";
import { PROXY_LAYOUT } from "../proxy/layout.js";
import { blockSize, cidrContains, cidrProblem, formatIpv4, parseCidr } from "../subnets.js";
import { bootstrapScriptArgs } from "./bootstrap.js";
import { renderUserData, USER_DATA_MAX_BYTES, userDataBytes } from "./cloud-init.js";
import { firewallRules, type FirewallRule } from "./firewall.js";
import { edgeProblems, edgeServerIp, edgeSpec, type EdgeSpec } from "./edge.js";
import { renderEdgeCaddyfile } from "../edge/caddyfile.js";
import { edgeTrustedProxies, serverProxyTls, serversPublic } from "../edge/mode.js";
import { mainProxySettings } from "../proxy/settings.js";

export const HCLOUD_PROVIDER_SOURCE = "hetznercloud/hcloud";

/** Hetzner's limit: a spread placement group holds at most 10 servers. */
export const SPREAD_GROUP_MAX = 10;

/** Private addresses: the monitoring server gets .10 of the subnet, tenant server n gets .(10+n). */
export const PRIVATE_IP_BASE_OFFSET = 10;

export type ServerRole = "tenant" | "monitoring" | "edge";

export interface ServerSpec {
  /** Terraform resource name (also the construct id) */
  id: string;
  name: string;
  role: ServerRole;
  serverType: string;
  location: string;
  image: string;
  labels: Record<string, string>;
  privateIp: string;
  /** id of its placement group */
  placementGroup: string;
  userData: string;
}

export interface PlatformSpec {
  stack: string;
  provider: { source: string; version: string };
  network: { id: "network"; name: string; ipRange: string; labels: Record<string, string> };
  subnet: { id: "subnet"; type: "cloud"; networkZone: string; ipRange: string };
  sshKeys: Array<{ id: string; name: string; publicKey: string; labels: Record<string, string> }>;
  placementGroups: Array<{ id: string; name: string; type: "spread"; labels: Record<string, string> }>;
  /** no rules: attached at creation, so nothing is reachable before the real rules apply */
  closedFirewall: { id: "firewall_closed"; name: string; labels: Record<string, string> };
  firewall: { id: "firewall"; name: string; rules: FirewallRule[]; labels: Record<string, string> };
  /** the platform firewall reaches every server of the stack through this label selector */
  attachment: { id: "firewall_attachment"; labelSelector: string };
  protection: boolean;
  servers: ServerSpec[];
  /** proxy.mode edge: the load balancer, its certificate and the DNS records (none in direct mode) */
  edge?: EdgeSpec;
}

export interface SpecAssets {
  cloudConfig: string;
  bootstrapScript: string;
  proxyCompose: string;
}

export const STACK_LABEL = "btw-stack";
export const ROLE_LABEL = "btw-role";

/** The servers the config asks for, by name (no user data): for checks that need no assets. */
export function plannedServerNames(config: Config): Array<{ name: string; role: ServerRole }> {
  const h = config.hetzner;
  return [
    ...Array.from({ length: h.servers }, (_, i) => ({ name: `${h.namePrefix}-${i + 1}`, role: "tenant" as const })),
    ...(h.monitoring ? [{ name: `${h.namePrefix}-monitoring`, role: "monitoring" as const }] : []),
    ...(config.proxy.mode === "edge" ? Array.from({ length: config.edge.servers }, (_, i) => ({ name: `${h.namePrefix}-edge-${i + 1}`, role: "edge" as const })) : []),
  ];
}

/** Why the config cannot make a usable platform (each problem names its key), or []. */
export function specProblems(config: Config): string[] {
  const h = config.hetzner;
  const problems: string[] = [];
  if (h.adminCidrs.length === 0) problems.push("hetzner.adminCidrs is empty: SSH (and so btw) could not reach the servers; add your address, e.g. 203.0.113.7/32");
  if (h.sshKeys.length === 0) problems.push("hetzner.sshKeys is empty: add the operator's public key (name, publicKey)");
  const names = new Set<string>();
  for (const k of h.sshKeys) {
    if (names.has(k.name)) problems.push(`hetzner.sshKeys: '${k.name}' is listed twice`);
    names.add(k.name);
    if (!/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+/.test(k.publicKey)) {
      problems.push(`hetzner.sshKeys '${k.name}': publicKey is not an OpenSSH public key (ssh-ed25519 AAAA…)`);
    }
  }
  for (const [key, value] of [["hetzner.networkRange", h.networkRange], ["hetzner.subnetRange", h.subnetRange]] as const) {
    const p = cidrProblem(value);
    if (p) problems.push(`${key}: ${p}`);
  }
  if (!cidrProblem(h.networkRange) && !cidrProblem(h.subnetRange)) {
    const subnet = parseCidr(h.subnetRange);
    if (!cidrContains(parseCidr(h.networkRange), subnet)) problems.push(`hetzner.subnetRange ${h.subnetRange} is not inside hetzner.networkRange ${h.networkRange}`);
    const needed = PRIVATE_IP_BASE_OFFSET + h.servers + 1;
    if (needed > blockSize(subnet.prefix) - 1) problems.push(`hetzner.subnetRange ${h.subnetRange} is too small for ${h.servers} servers (needs ${needed + 1} addresses)`);
  }
  problems.push(...edgeProblems(config));
  return problems;
}

/** The platform stack. Throws ConfigError listing every problem of the config at once. */
export function platformSpec(config: Config, assets: SpecAssets): PlatformSpec {
  const problems = specProblems(config);
  if (problems.length) {
    throw new ConfigError(`the infra config has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n  ${problems.join("\n  ")}`, {
      code: "infra-config",
      hint: "edit the hetzner section of btw.yml (`btw config show` prints it)",
    });
  }
  const h = config.hetzner;
  const stack = config.terraform.stack;
  const common = { ...h.labels, "managed-by": "btw", [STACK_LABEL]: stack };
  const subnet = parseCidr(h.subnetRange);
  const privateIp = (offset: number) => formatIpv4(subnet.base + offset);

  const tenantUserData = renderUserData({
    base: assets.cloudConfig,
    script: assets.bootstrapScript,
    scriptArgs: bootstrapScriptArgs(config.bootstrap),
    files: [
      { path: PROXY_LAYOUT.composeFile, content: assets.proxyCompose, permissions: "0644" },
      { path: PROXY_LAYOUT.envFile, content: renderProxyEnv({ caddyImage: config.images.caddy }), permissions: "0600" },
      {
        path: PROXY_LAYOUT.caddyfile,
        // the main file alone (no state's sites yet: the first sync writes its own)
        content: renderMainCaddyfile(mainProxySettings(config)),
        permissions: "0644",
      },
    ],
    commands: [proxyComposeUp({ wait: true })],
  });
  const monitoringUserData = renderUserData({ base: assets.cloudConfig, script: assets.bootstrapScript, scriptArgs: bootstrapScriptArgs(config.bootstrap) });
  // An edge server: the same proxy container, with the edge's Caddyfile (no routes until
  // btw syncs them from the state; the load balancer's health check answers at once).
  const edgeUserData =
    config.proxy.mode === "edge"
      ? renderUserData({
          base: assets.cloudConfig,
          script: assets.bootstrapScript,
          scriptArgs: bootstrapScriptArgs(config.bootstrap),
          files: [
            { path: PROXY_LAYOUT.composeFile, content: assets.proxyCompose, permissions: "0644" },
            { path: PROXY_LAYOUT.envFile, content: renderProxyEnv({ caddyImage: config.images.caddy }), permissions: "0600" },
            { path: PROXY_LAYOUT.caddyfile, content: renderEdgeCaddyfile({ domain: config.domain, routes: [], trustedProxies: edgeTrustedProxies(config) }), permissions: "0644" },
          ],
          commands: [proxyComposeUp({ wait: true })],
        })
      : "";
  for (const [role, text] of [["tenant", tenantUserData], ["monitoring", monitoringUserData], ["edge", edgeUserData]] as const) {
    const bytes = userDataBytes(text);
    if (bytes > USER_DATA_MAX_BYTES) throw new ConfigError(`the ${role} servers' user data is ${bytes} bytes: over Hetzner's limit of ${USER_DATA_MAX_BYTES}`);
  }

  const planned = plannedServerNames(config);
  const groupCount = Math.max(1, Math.ceil(planned.length / SPREAD_GROUP_MAX));
  const placementGroups = Array.from({ length: groupCount }, (_, i) => ({
    id: `spread_${i + 1}`,
    name: `${h.namePrefix}-spread-${i + 1}`,
    type: "spread" as const,
    labels: common,
  }));
  let tenantIndex = 0;
  let edgeIndex = 0;
  const servers = planned.map((p, i): ServerSpec => {
    const tenant = p.role === "tenant";
    if (tenant) tenantIndex++;
    if (p.role === "edge") edgeIndex++;
    return {
      id: resourceName(`server_${p.name}`),
      name: p.name,
      role: p.role,
      serverType: tenant ? h.serverType : p.role === "edge" ? config.edge.serverType : h.monitoringServerType,
      location: h.location,
      image: h.image,
      labels: { ...common, [ROLE_LABEL]: p.role },
      privateIp: p.role === "edge" ? edgeServerIp(h.subnetRange, edgeIndex) : privateIp(PRIVATE_IP_BASE_OFFSET + (tenant ? tenantIndex : 0)),
      placementGroup: placementGroups[Math.floor(i / SPREAD_GROUP_MAX)]!.id,
      userData: tenant ? tenantUserData : p.role === "edge" ? edgeUserData : monitoringUserData,
    };
  });

  return {
    stack,
    provider: { source: HCLOUD_PROVIDER_SOURCE, version: config.terraform.providerVersion },
    network: { id: "network", name: `${h.namePrefix}-private`, ipRange: h.networkRange, labels: common },
    subnet: { id: "subnet", type: "cloud", networkZone: h.networkZone, ipRange: h.subnetRange },
    sshKeys: h.sshKeys.map((k) => ({ id: resourceName(`ssh_key_${k.name}`), name: k.name, publicKey: k.publicKey.trim(), labels: common })),
    placementGroups,
    closedFirewall: { id: "firewall_closed", name: `${h.namePrefix}-closed`, labels: common },
    firewall: {
      id: "firewall",
      name: `${h.namePrefix}-platform`,
      rules: firewallRules({ adminCidrs: h.adminCidrs, networkRange: h.networkRange, metricsPorts: h.metricsPorts, mode: serversPublic(config) ? "direct" : config.proxy.mode }),
      labels: common,
    },
    attachment: { id: "firewall_attachment", labelSelector: `${STACK_LABEL}=${stack}` },
    protection: h.protection,
    servers,
    ...(config.proxy.mode === "edge" ? { edge: edgeSpec(config, common, { stack, stackLabel: STACK_LABEL, roleLabel: ROLE_LABEL }) } : {}),
  };
}

/** A Terraform resource/output name: letters, digits, `_` and `-`, starting with a letter. */
export function resourceName(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, "_").replace(/^[^A-Za-z_]/, "_");
}

/** Output name of a server's facts (name, id, ipv4, ipv6, private_ip, role). */
export function serverOutputName(server: string): string {
  return resourceName(`server_${server}`);
}
