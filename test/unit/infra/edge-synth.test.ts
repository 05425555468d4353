// proxy.mode edge in the Terraform JSON: the load balancer, its network, service, health
// check and target, the managed certificate, the DNS records, the edge servers and the
// tightened firewall; and a direct-mode config that synthesizes exactly as before.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { edgeProblems, relativeName } from "../../../src/core/infra/edge.js";
import { parseServerOutputs, planRegistration } from "../../../src/core/infra/outputs.js";
import { platformSpec, plannedServerNames } from "../../../src/core/infra/spec.js";
import { synthPlatform } from "../../../stacks/synth.js";
import { assets, infraConfig } from "./fixtures.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function synth(config: ReturnType<typeof infraConfig>): { json: Json; text: string } {
  const outdir = mkdtempSync(join(tmpdir(), "btw-synth-edge-"));
  dirs.push(outdir);
  const result = synthPlatform(platformSpec(config, assets()), { type: "local", path: "/var/btw/infra/state/platform.tfstate" }, outdir);
  const text = readFileSync(result.stackFile, "utf8");
  return { json: JSON.parse(text), text };
}

function attrs(json: Json, type: string, name: string): Json {
  const { "//": _meta, ...rest } = json.resource[type][name];
  return rest;
}

const COMMON = { "btw-stack": "platform", "managed-by": "btw" };
const edgeConfig = (edge: Json = {}, hetzner: Json = {}) => infraConfig({ domain: "example.com", proxy: { mode: "edge" }, edge, hetzner: { servers: 2, ...hetzner } });

describe("infra synth, proxy.mode edge", () => {
  const { json } = synth(edgeConfig());

  it("adds the load balancer, its network, service, target, the certificate, the DNS records and the edge servers", () => {
    const names = Object.fromEntries(Object.entries(json.resource).map(([type, byName]) => [type, Object.keys(byName as object).sort()]));
    expect(names).toEqual({
      hcloud_firewall: ["firewall", "firewall_closed"],
      hcloud_firewall_attachment: ["firewall_attachment"],
      hcloud_load_balancer: ["edge_lb"],
      hcloud_load_balancer_network: ["edge_lb_network"],
      hcloud_load_balancer_service: ["edge_https"],
      hcloud_load_balancer_target: ["edge_targets"],
      hcloud_managed_certificate: ["edge_certificate"],
      hcloud_network: ["network"],
      hcloud_network_subnet: ["subnet"],
      hcloud_placement_group: ["spread_1"],
      hcloud_server: ["server_btw-1", "server_btw-2", "server_btw-edge-1", "server_btw-edge-2"],
      hcloud_ssh_key: ["ssh_key_ops"],
      hcloud_zone_rrset: ["dns_apex_a", "dns_apex_aaaa", "dns_wildcard_a", "dns_wildcard_aaaa"],
    });
  });

  it("the load balancer sits on the private network at .2, protected like the servers", () => {
    expect(attrs(json, "hcloud_load_balancer", "edge_lb")).toEqual({ name: "btw-edge", load_balancer_type: "lb11", location: "fsn1", labels: COMMON, delete_protection: true });
    expect(attrs(json, "hcloud_load_balancer_network", "edge_lb_network")).toEqual({
      load_balancer_id: "${hcloud_load_balancer.edge_lb.id}",
      subnet_id: "${hcloud_network_subnet.subnet.id}",
      ip: "10.0.1.2",
      enable_public_interface: true,
    });
  });

  it("HTTPS 443 terminates with the managed certificate, goes to the edge proxies' port 80, HTTP redirects; health-checked on the edge's health path", () => {
    expect(attrs(json, "hcloud_load_balancer_service", "edge_https")).toEqual({
      load_balancer_id: "${hcloud_load_balancer.edge_lb.id}",
      protocol: "https",
      listen_port: 443,
      destination_port: 80,
      http: [{ certificates: ["${hcloud_managed_certificate.edge_certificate.id}"], redirect_http: true }],
      health_check: [{ protocol: "http", port: 80, interval: 10, timeout: 5, retries: 3, http: [{ path: "/btw-edge-health", status_codes: ["200"] }] }],
    });
  });

  it("targets the edge servers by label over their private addresses, once the load balancer is on the network", () => {
    expect(attrs(json, "hcloud_load_balancer_target", "edge_targets")).toEqual({
      type: "label_selector",
      load_balancer_id: "${hcloud_load_balancer.edge_lb.id}",
      label_selector: "btw-stack=platform,btw-role=edge",
      use_private_ip: true,
      depends_on: ["hcloud_load_balancer_network.edge_lb_network"],
    });
  });

  it("one managed certificate for the domain and its wildcard, replaced before it is destroyed", () => {
    expect(attrs(json, "hcloud_managed_certificate", "edge_certificate")).toEqual({
      name: "btw-edge",
      domain_names: ["example.com", "*.example.com"],
      labels: COMMON,
      lifecycle: { create_before_destroy: true },
    });
  });

  it("DNS: *.<domain> and the apex, A and AAAA, hold the load balancer's addresses", () => {
    const rr = (name: string) => attrs(json, "hcloud_zone_rrset", name);
    expect(rr("dns_wildcard_a")).toEqual({
      zone: "example.com",
      name: "*",
      type: "A",
      ttl: 300,
      labels: COMMON,
      records: [{ value: "${hcloud_load_balancer.edge_lb.ipv4}", comment: "btw edge load balancer" }],
    });
    expect([rr("dns_wildcard_aaaa").name, rr("dns_wildcard_aaaa").type, rr("dns_wildcard_aaaa").records[0].value]).toEqual(["*", "AAAA", "${hcloud_load_balancer.edge_lb.ipv6}"]);
    expect([rr("dns_apex_a").name, rr("dns_apex_a").type, rr("dns_apex_a").records[0].value]).toEqual(["@", "A", "${hcloud_load_balancer.edge_lb.ipv4}"]);
    expect([rr("dns_apex_aaaa").name, rr("dns_apex_aaaa").type]).toEqual(["@", "AAAA"]);
  });

  it("the firewall: no public HTTP(S) at all; HTTP only from the private network, SSH only from the admin range", () => {
    const rules = attrs(json, "hcloud_firewall", "firewall").rule;
    expect(rules).toEqual([
      { direction: "in", protocol: "tcp", port: "22", source_ips: ["203.0.113.7/32"], description: "SSH from the operator's networks" },
      { direction: "in", protocol: "tcp", port: "80", source_ips: ["10.0.0.0/16"], description: "HTTP from the private network (load balancer, edge proxies)" },
      { direction: "in", protocol: "tcp", port: "9100", source_ips: ["10.0.0.0/16"], description: "metrics 9100 from the private network" },
      { direction: "in", protocol: "tcp", port: "9323", source_ips: ["10.0.0.0/16"], description: "metrics 9323 from the private network" },
    ]);
    for (const r of rules) expect(r.source_ips).not.toContain("0.0.0.0/0");
  });

  it("edge servers: their own type, role label, private addresses .3 and .4, the edge Caddyfile in their first boot", () => {
    const e1 = attrs(json, "hcloud_server", "server_btw-edge-1");
    expect([e1.name, e1.server_type, e1.labels, e1.network[0].ip, attrs(json, "hcloud_server", "server_btw-edge-2").network[0].ip]).toEqual([
      "btw-edge-1",
      "cx33",
      { ...COMMON, "btw-role": "edge" },
      "10.0.1.3",
      "10.0.1.4",
    ]);
    expect(e1.firewall_ids).toEqual(["${hcloud_firewall.firewall_closed.id}"]);
    const files = parse(e1.user_data).write_files as Array<{ path: string; content: string }>;
    const caddyfile = files.find((f) => f.path === "/opt/btw/proxy/conf/Caddyfile")!.content;
    expect(caddyfile).toContain("# btw edge: rendered from the state (0 tenants on 0 servers).");
    expect(caddyfile).toContain('respond /btw-edge-health "ok" 200');
  });

  it("tenant servers keep their addresses; their proxy serves plain HTTP to the edge and trusts the private network", () => {
    const t1 = attrs(json, "hcloud_server", "server_btw-1");
    expect([t1.network[0].ip, t1.labels["btw-role"]]).toEqual(["10.0.1.11", "tenant"]);
    const files = parse(t1.user_data).write_files as Array<{ path: string; content: string }>;
    const caddyfile = files.find((f) => f.path === "/opt/btw/proxy/conf/Caddyfile")!.content;
    expect(caddyfile).toContain("\tauto_https off\n");
  });

  it("outputs the load balancer's addresses", () => {
    expect(json.output.edge_load_balancer).toEqual({
      description: "the edge load balancer",
      value: {
        name: "btw-edge",
        id: "${hcloud_load_balancer.edge_lb.id}",
        ipv4: "${hcloud_load_balancer.edge_lb.ipv4}",
        ipv6: "${hcloud_load_balancer.edge_lb.ipv6}",
        private_ip: "10.0.1.2",
      },
    });
  });
});

describe("infra synth, proxy.mode edge with a sub-domain and a managed zone", () => {
  it("records are relative to the zone; the zone is created when asked; certificate names from the config", () => {
    const { json } = synth(
      infraConfig({
        domain: "n8n.example.com",
        proxy: { mode: "edge" },
        edge: { servers: 1, loadBalancerType: "lb21", location: "nbg1", certificateDomains: ["*.n8n.example.com"], dns: { zone: "example.com", manageZone: true, apex: false, ttl: 60 } },
        hetzner: { servers: 1 },
      }),
    );
    expect(attrs(json, "hcloud_zone", "dns_zone")).toEqual({ name: "example.com", mode: "primary", labels: COMMON, delete_protection: true });
    expect(Object.keys(json.resource.hcloud_zone_rrset).sort()).toEqual(["dns_wildcard_n8n_a", "dns_wildcard_n8n_aaaa"]);
    expect(attrs(json, "hcloud_zone_rrset", "dns_wildcard_n8n_a")).toMatchObject({ zone: "${hcloud_zone.dns_zone.name}", name: "*.n8n", ttl: 60 });
    expect(attrs(json, "hcloud_managed_certificate", "edge_certificate").domain_names).toEqual(["*.n8n.example.com"]);
    expect(attrs(json, "hcloud_load_balancer", "edge_lb")).toMatchObject({ load_balancer_type: "lb21", location: "nbg1" });
    expect(Object.keys(json.resource.hcloud_server).sort()).toEqual(["server_btw-1", "server_btw-edge-1"]);
  });
});

describe("direct mode synthesizes as before", () => {
  it("an edge section is ignored: the same Terraform JSON as a config without one, and no edge resource", () => {
    const plain = synth(infraConfig({ hetzner: { servers: 2, monitoring: true } }));
    const withEdge = synth(infraConfig({ proxy: { mode: "direct" }, edge: { servers: 3, dns: { zone: "example.com", manageZone: true } }, hetzner: { servers: 2, monitoring: true } }));
    expect(withEdge.text).toBe(plain.text);
    const types = Object.keys(plain.json.resource);
    for (const t of ["hcloud_load_balancer", "hcloud_managed_certificate", "hcloud_zone", "hcloud_zone_rrset"]) expect(types).not.toContain(t);
    expect(Object.keys(plain.json.output).sort()).toEqual(["server_btw-1", "server_btw-2", "server_btw-monitoring"]);
    expect(plain.json.resource.hcloud_firewall.firewall.rule.map((r: Json) => `${r.protocol}/${r.port} ${r.source_ips.join(",")}`)).toEqual([
      "tcp/22 203.0.113.7/32",
      "tcp/80 0.0.0.0/0,::/0",
      "tcp/443 0.0.0.0/0,::/0",
      "udp/443 0.0.0.0/0,::/0",
      "tcp/9100 10.0.0.0/16",
      "tcp/9323 10.0.0.0/16",
    ]);
  });
});

describe("edge config checks", () => {
  it("relativeName: the apex, a sub-domain, or null outside the zone", () => {
    expect([relativeName("example.com", "example.com"), relativeName("n8n.example.com", "example.com"), relativeName("example.org", "example.com"), relativeName("badexample.com", "example.com")]).toEqual([
      "@",
      "n8n",
      null,
      null,
    ]);
  });

  it("a domain outside the zone, or a certificate name outside it, is refused with every problem named", () => {
    const config = infraConfig({ domain: "example.org", proxy: { mode: "edge" }, edge: { certificateDomains: ["*.other.net"], dns: { zone: "example.com" } } });
    expect(edgeProblems(config)).toEqual([
      "edge.dns.zone example.com does not contain domain example.org",
      "edge.certificateDomains: *.other.net is not in the zone example.com (Hetzner issues managed certificates for its own zones only)",
    ]);
    expect(() => platformSpec(config, assets())).toThrow(/edge\.dns\.zone example\.com does not contain domain example\.org/);
    expect(edgeProblems(infraConfig({ domain: "example.org", edge: { dns: { zone: "example.com" } } }))).toEqual([]);
  });

  it("the load balancer must be in the private network's zone", () => {
    expect(edgeProblems(infraConfig({ proxy: { mode: "edge" }, edge: { location: "ash" } }))).toEqual([
      "edge.location ash is in us-east, not hetzner.networkZone eu-central: the load balancer could not join the private network",
    ]);
    expect(edgeProblems(infraConfig({ proxy: { mode: "edge" }, edge: { location: "hel1" } }))).toEqual([]);
  });

  it("edge servers are planned in edge mode only, and `infra apply` never registers them for tenants", () => {
    expect(plannedServerNames(edgeConfig({ servers: 2 }, { servers: 1 }))).toEqual([
      { name: "btw-1", role: "tenant" },
      { name: "btw-edge-1", role: "edge" },
      { name: "btw-edge-2", role: "edge" },
    ]);
    const outputs = parseServerOutputs(
      JSON.stringify({
        "server_btw-1": { value: { name: "btw-1", id: "1", ipv4: "203.0.113.1", ipv6: "", private_ip: "10.0.1.11", role: "tenant", server_type: "cpx32" } },
        "server_btw-edge-1": { value: { name: "btw-edge-1", id: "2", ipv4: "203.0.113.2", ipv6: "", private_ip: "10.0.1.3", role: "edge", server_type: "cx33" } },
        edge_load_balancer: { value: { name: "btw-edge", id: "9", ipv4: "203.0.113.9" } },
      }),
    );
    expect(outputs.map((o) => [o.name, o.role])).toEqual([
      ["btw-1", "tenant"],
      ["btw-edge-1", "edge"],
    ]);
    expect(planRegistration({ outputs, known: [], capacities: {}, defaultCapacity: 12 }).map((r) => r.output.name)).toEqual(["btw-1"]);
  });
});

describe("edge.switch: moving a fleet from direct mode in stages", () => {
  const firewall = (json: Json) => attrs(json, "hcloud_firewall", "firewall").rule as Array<{ port: string; protocol: string; source_ips: string[] }>;
  const publicWeb = (json: Json) => firewall(json).filter((r) => ["80", "443"].includes(r.port) && r.source_ips.includes("0.0.0.0/0")).map((r) => `${r.protocol}/${r.port}`);
  const tenantCaddyfile = (json: Json) =>
    (parse(attrs(json, "hcloud_server", "server_btw-1").user_data).write_files as Array<{ path: string; content: string }>).find((f) => f.path === "/opt/btw/proxy/conf/Caddyfile")!.content;

  it("prepare: load balancer, certificate and edge servers, but no DNS record; the servers keep public 80/443 and their own TLS", () => {
    const { json } = synth(edgeConfig({ switch: "prepare" }));
    expect(Object.keys(json.resource)).toEqual(expect.arrayContaining(["hcloud_load_balancer", "hcloud_managed_certificate", "hcloud_load_balancer_target"]));
    expect(json.resource.hcloud_zone_rrset).toBeUndefined();
    expect(publicWeb(json)).toEqual(["tcp/80", "tcp/443", "udp/443"]);
    expect(tenantCaddyfile(json)).not.toContain("auto_https off");
    expect(tenantCaddyfile(json)).toContain("auto_https disable_redirects");
  });

  it("dns: the records point at the load balancer while the servers still answer publicly", () => {
    const { json } = synth(edgeConfig({ switch: "dns" }));
    expect(Object.keys(json.resource.hcloud_zone_rrset).sort()).toEqual(["dns_apex_a", "dns_apex_aaaa", "dns_wildcard_a", "dns_wildcard_aaaa"]);
    expect(publicWeb(json)).toEqual(["tcp/80", "tcp/443", "udp/443"]);
  });

  it("done (the default): no public HTTP(S) on the servers", () => {
    const { json } = synth(edgeConfig({ switch: "done" }));
    expect(publicWeb(json)).toEqual([]);
    expect(tenantCaddyfile(json)).toContain("\tauto_https off\n");
  });
});
