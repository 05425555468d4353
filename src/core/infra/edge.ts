// The edge tier as plain data (proxy.mode edge): a Hetzner Load Balancer on the private
// network that terminates HTTPS with a Hetzner-managed certificate and forwards HTTP to the
// edge proxies' private addresses, and the DNS records that point `*.<domain>` (and the apex)
// at it. Pure; stacks/platform-stack.ts turns it into resources.
//
// Why a load balancer *and* edge proxies: Hetzner Load Balancers route by port, not by host
// name, so host routing needs a proxy behind them; the managed certificate (one wildcard,
// renewed by Hetzner) replaces one Let's Encrypt certificate per tenant per server.

import type { Config } from "../../config/schema.js";
import { EDGE_HEALTH_PATH, SERVER_HTTP_PORT } from "../edge/caddyfile.js";
import { formatIpv4, parseCidr } from "../subnets.js";

/** Private addresses in hetzner.subnetRange: the load balancer .2, edge proxy n .(2+n) — below the servers' .10+. */
export const EDGE_LB_OFFSET = 2;
export const EDGE_MAX_SERVERS = 7;

export interface EdgeDnsRecord {
  /** Terraform resource name */
  id: string;
  /** relative to the zone: "*", "*.n8n", "@", "n8n" */
  name: string;
  type: "A" | "AAAA";
  /** which address of the load balancer it holds */
  target: "ipv4" | "ipv6";
  ttl: number;
}

export interface EdgeSpec {
  loadBalancer: { id: "edge_lb"; name: string; type: string; location: string; labels: Record<string, string> };
  network: { id: "edge_lb_network"; ip: string; enablePublicInterface: true };
  certificate: { id: "edge_certificate"; name: string; domainNames: string[]; labels: Record<string, string> };
  /** HTTPS 443 at the load balancer → HTTP on the edge proxies; port 80 redirects to HTTPS */
  service: {
    id: "edge_https";
    protocol: "https";
    listenPort: 443;
    destinationPort: number;
    redirectHttp: true;
    healthCheck: { protocol: "http"; port: number; interval: number; timeout: number; retries: number; path: string; statusCodes: string[] };
  };
  /** the edge servers, by label, reached on their private addresses */
  target: { id: "edge_targets"; labelSelector: string; usePrivateIp: true };
  dns: { zone: string; manageZone: boolean; zoneId: "dns_zone"; labels: Record<string, string>; records: EdgeDnsRecord[] };
}

/** Hetzner's locations by network zone (a load balancer joins networks of its own zone only). */
export const NETWORK_ZONE_OF: Readonly<Record<string, string>> = { fsn1: "eu-central", nbg1: "eu-central", hel1: "eu-central", ash: "us-east", hil: "us-west", sin: "ap-southeast" };

/** `domain` relative to `zone` ("@" when equal), or null when the domain is not in the zone. */
export function relativeName(domain: string, zone: string): string | null {
  if (domain === zone) return "@";
  return domain.endsWith(`.${zone}`) ? domain.slice(0, -(zone.length + 1)) : null;
}

/** Why the edge section cannot make a usable edge (each problem names its key), or []. */
export function edgeProblems(config: Config): string[] {
  if (config.proxy.mode !== "edge") return [];
  const zone = config.edge.dns.zone ?? config.domain;
  const problems: string[] = [];
  const location = config.edge.location ?? config.hetzner.location;
  if (NETWORK_ZONE_OF[location] !== config.hetzner.networkZone) {
    problems.push(`edge.location ${location} is in ${NETWORK_ZONE_OF[location]}, not hetzner.networkZone ${config.hetzner.networkZone}: the load balancer could not join the private network`);
  }
  if (config.edge.tls === "internal" && !config.edge.proxies?.length) {
    problems.push("edge.tls internal: the edge proxies terminate TLS with their own CA, which only a lab or a hand-run edge listed in edge.proxies can use; the stack's load balancer terminates TLS with the managed certificate (edge.tls: load-balancer)");
  }
  if (relativeName(config.domain, zone) === null) problems.push(`edge.dns.zone ${zone} does not contain domain ${config.domain}`);
  for (const d of config.edge.certificateDomains) {
    const bare = d.startsWith("*.") ? d.slice(2) : d;
    if (relativeName(bare, zone) === null) problems.push(`edge.certificateDomains: ${d} is not in the zone ${zone} (Hetzner issues managed certificates for its own zones only)`);
  }
  return problems;
}

export function edgeSpec(config: Config, common: Record<string, string>, labels: { stack: string; roleLabel: string; stackLabel: string }): EdgeSpec {
  const h = config.hetzner;
  const e = config.edge;
  const zone = e.dns.zone ?? config.domain;
  const rel = relativeName(config.domain, zone)!;
  const wildcard = rel === "@" ? "*" : `*.${rel}`;
  // edge.switch prepare: everything but the records (DNS still leads to the servers)
  const names = e.switch === "prepare" ? [] : [wildcard, ...(e.dns.apex ? [rel] : [])];
  const records = names.flatMap((name) =>
    (["ipv4", "ipv6"] as const).map((target): EdgeDnsRecord => ({
      id: `dns_${name === "@" ? "apex" : name.replace(/^\*/, "wildcard").replace(/[^A-Za-z0-9_-]/g, "_")}_${target === "ipv4" ? "a" : "aaaa"}`,
      name,
      type: target === "ipv4" ? "A" : "AAAA",
      target,
      ttl: e.dns.ttl,
    })),
  );
  return {
    loadBalancer: { id: "edge_lb", name: `${h.namePrefix}-edge`, type: e.loadBalancerType, location: e.location ?? h.location, labels: common },
    network: { id: "edge_lb_network", ip: loadBalancerIp(h.subnetRange), enablePublicInterface: true },
    certificate: {
      id: "edge_certificate",
      name: `${h.namePrefix}-edge`,
      domainNames: e.certificateDomains.length ? [...e.certificateDomains] : [config.domain, `*.${config.domain}`],
      labels: common,
    },
    service: {
      id: "edge_https",
      protocol: "https",
      listenPort: 443,
      destinationPort: SERVER_HTTP_PORT,
      redirectHttp: true,
      healthCheck: { protocol: "http", port: SERVER_HTTP_PORT, interval: 10, timeout: 5, retries: 3, path: EDGE_HEALTH_PATH, statusCodes: ["200"] },
    },
    target: { id: "edge_targets", labelSelector: `${labels.stackLabel}=${labels.stack},${labels.roleLabel}=edge`, usePrivateIp: true },
    dns: { zone, manageZone: e.dns.manageZone, zoneId: "dns_zone", labels: common, records },
  };
}

/** The load balancer's private address: where the edge proxies see its requests come from. */
export function loadBalancerIp(subnetRange: string): string {
  return formatIpv4(parseCidr(subnetRange).base + EDGE_LB_OFFSET);
}

/** Private address of edge proxy n (1-based). */
export function edgeServerIp(subnetRange: string, n: number): string {
  return formatIpv4(parseCidr(subnetRange).base + EDGE_LB_OFFSET + n);
}
