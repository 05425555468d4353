// The platform stack as Terraform JSON: every resource's attributes, the exact firewall rule
// set, labels, user data, outputs, and the file layout cdktn writes. Synthesized for real
// (cdktn → cdk.tf.json) into a temporary directory.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { USER_DATA_MAX_BYTES } from "../../../src/core/infra/cloud-init.js";
import { platformSpec } from "../../../src/core/infra/spec.js";
import type { Backend } from "../../../src/core/infra/terraform.js";
import { synthPlatform } from "../../../stacks/synth.js";
import { assets, infraConfig, OPS_KEY, readAsset } from "./fixtures.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function synth(config = infraConfig({ hetzner: { servers: 2, monitoring: true } }), backend: Backend = { type: "local", path: "/var/btw/infra/state/platform.tfstate" }) {
  const outdir = mkdtempSync(join(tmpdir(), "btw-synth-"));
  dirs.push(outdir);
  const spec = platformSpec(config, assets());
  const result = synthPlatform(spec, backend, outdir);
  const text = readFileSync(result.stackFile, "utf8");
  return { outdir, result, spec, text, json: JSON.parse(text) as Json };
}

/** A resource's attributes without cdktn's "//" metadata. */
function attrs(json: Json, type: string, name: string): Json {
  const { "//": _meta, ...rest } = json.resource[type][name];
  return rest;
}

const COMMON = { "btw-stack": "platform", "managed-by": "btw" };

describe("infra synth", () => {
  const { outdir, result, json, text } = synth();

  it("writes cdktf.out/manifest.json and stacks/<stack>/cdk.tf.json", () => {
    expect(result.manifest).toBe(join(outdir, "manifest.json"));
    expect(result.stackFile).toBe(join(outdir, "stacks", "platform", "cdk.tf.json"));
    expect(existsSync(result.manifest)).toBe(true);
    const manifest = JSON.parse(readFileSync(result.manifest, "utf8"));
    expect(manifest.stacks.platform.synthesizedStackPath).toBe("stacks/platform/cdk.tf.json");
    expect(manifest.stacks.platform.workingDirectory).toBe("stacks/platform");
  });

  it("has the terraform block Terraform's JSON syntax expects: required_providers with source and version, the backend", () => {
    expect(json.terraform).toEqual({
      required_providers: { hcloud: { source: "hetznercloud/hcloud", version: "~> 1.68" } },
      backend: { local: { path: "/var/btw/infra/state/platform.tfstate" } },
    });
  });

  it("configures the provider with no arguments: the token comes from HCLOUD_TOKEN", () => {
    expect(json.provider).toEqual({ hcloud: [{}] });
  });

  it("makes exactly these resources", () => {
    const names = Object.fromEntries(Object.entries(json.resource).map(([type, byName]) => [type, Object.keys(byName as object).sort()]));
    expect(names).toEqual({
      hcloud_firewall: ["firewall", "firewall_closed"],
      hcloud_firewall_attachment: ["firewall_attachment"],
      hcloud_network: ["network"],
      hcloud_network_subnet: ["subnet"],
      hcloud_placement_group: ["spread_1"],
      hcloud_server: ["server_btw-1", "server_btw-2", "server_btw-monitoring"],
      hcloud_ssh_key: ["ssh_key_ops"],
    });
  });

  it("network and subnet", () => {
    expect(attrs(json, "hcloud_network", "network")).toEqual({ name: "btw-private", ip_range: "10.0.0.0/16", labels: COMMON });
    expect(attrs(json, "hcloud_network_subnet", "subnet")).toEqual({
      network_id: "${hcloud_network.network.id}",
      type: "cloud",
      network_zone: "eu-central",
      ip_range: "10.0.1.0/24",
    });
  });

  it("the operator's SSH key and a spread placement group", () => {
    expect(attrs(json, "hcloud_ssh_key", "ssh_key_ops")).toEqual({ name: "ops", public_key: OPS_KEY, labels: COMMON });
    expect(attrs(json, "hcloud_placement_group", "spread_1")).toEqual({ name: "btw-spread-1", type: "spread", labels: COMMON });
  });

  it("the firewall: SSH only from the admin CIDRs, 80/443 from anywhere, metrics only from the private network — nothing else", () => {
    const anywhere = ["0.0.0.0/0", "::/0"];
    expect(attrs(json, "hcloud_firewall", "firewall")).toEqual({
      name: "btw-platform",
      labels: COMMON,
      rule: [
        { direction: "in", protocol: "tcp", port: "22", source_ips: ["203.0.113.7/32"], description: "SSH from the operator's networks" },
        { direction: "in", protocol: "tcp", port: "80", source_ips: anywhere, description: "HTTP (ACME challenges, redirect to HTTPS)" },
        { direction: "in", protocol: "tcp", port: "443", source_ips: anywhere, description: "HTTPS" },
        { direction: "in", protocol: "udp", port: "443", source_ips: anywhere, description: "HTTP/3 (the proxy publishes 443/udp)" },
        { direction: "in", protocol: "tcp", port: "9100", source_ips: ["10.0.0.0/16"], description: "metrics 9100 from the private network" },
        { direction: "in", protocol: "tcp", port: "9323", source_ips: ["10.0.0.0/16"], description: "metrics 9323 from the private network" },
      ],
    });
  });

  it("a rule-less firewall closes new servers until the platform firewall reaches them by label", () => {
    expect(attrs(json, "hcloud_firewall", "firewall_closed")).toEqual({ name: "btw-closed", labels: COMMON });
    expect(attrs(json, "hcloud_firewall_attachment", "firewall_attachment")).toEqual({
      firewall_id: "${hcloud_firewall.firewall.id}",
      label_selectors: ["btw-stack=platform"],
    });
  });

  it("tenant servers: type, location, image, labels, protection, network, keys, placement, closed firewall at creation", () => {
    const { user_data, ...server } = attrs(json, "hcloud_server", "server_btw-1");
    expect(server).toEqual({
      name: "btw-1",
      server_type: "cpx32",
      image: "debian-13",
      location: "fsn1",
      ssh_keys: ["${hcloud_ssh_key.ssh_key_ops.id}"],
      labels: { ...COMMON, "btw-role": "tenant" },
      firewall_ids: ["${hcloud_firewall.firewall_closed.id}"],
      ignore_remote_firewall_ids: true,
      placement_group_id: "${hcloud_placement_group.spread_1.id}",
      delete_protection: true,
      rebuild_protection: true,
      shutdown_before_deletion: true,
      public_net: [{ ipv4_enabled: true, ipv6_enabled: true }],
      network: [{ subnet_id: "${hcloud_network_subnet.subnet.id}", ip: "10.0.1.11", alias_ips: [] }],
      depends_on: ["hcloud_network_subnet.subnet", "hcloud_firewall_attachment.firewall_attachment"],
      lifecycle: { ignore_changes: ["user_data", "image", "ssh_keys"] },
    });
    expect(typeof user_data).toBe("string");
    expect(attrs(json, "hcloud_server", "server_btw-2").network[0].ip).toBe("10.0.1.12");
  });

  it("the monitoring server: its own type and role, no proxy in its first boot", () => {
    const m = attrs(json, "hcloud_server", "server_btw-monitoring");
    expect(m.server_type).toBe("cx33");
    expect(m.labels).toEqual({ ...COMMON, "btw-role": "monitoring" });
    expect(m.network[0].ip).toBe("10.0.1.10");
    expect(m.user_data).not.toContain("btw-proxy");
  });

  it("user data: cloud-config within Hetzner's 32 KiB, the bootstrap script verbatim, then the proxy", () => {
    const userData: string = json.resource.hcloud_server["server_btw-1"].user_data;
    const bytes = Buffer.byteLength(userData, "utf8");
    expect(bytes).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
    expect(bytes).toBeGreaterThan(10_000); // the script and the proxy files are really in it
    expect(userData.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(userData);
    expect(doc.ssh_pwauth).toBe(false);
    expect(doc.write_files.map((f: Json) => [f.path, f.permissions])).toEqual([
      ["/opt/btw/bin/bootstrap.sh", "0755"],
      ["/opt/btw/proxy/compose.yml", "0644"],
      ["/opt/btw/proxy/.env", "0600"],
      ["/opt/btw/proxy/conf/Caddyfile", "0644"],
    ]);
    expect(doc.write_files[0].content).toBe(readAsset("templates/cloud-init/bootstrap.sh"));
    expect(doc.write_files[1].content).toBe(readAsset("templates/proxy/compose.yml"));
    expect(doc.write_files[2].content).toContain("CADDY_IMAGE=caddy:2.10.2");
    expect(doc.runcmd).toEqual([
      ["/opt/btw/bin/bootstrap.sh", "--log-max-size", "10m", "--log-max-file", "3"],
      ["docker", "compose", "-p", "btw-proxy", "--project-directory", "/opt/btw/proxy", "-f", "/opt/btw/proxy/compose.yml", "--env-file", "/opt/btw/proxy/.env", "up", "-d", "--remove-orphans", "--wait"],
    ]);
  });

  it("outputs name, id, IPv4, IPv6 and private IP per server", () => {
    expect(Object.keys(json.output).sort()).toEqual(["server_btw-1", "server_btw-2", "server_btw-monitoring"]);
    expect(json.output["server_btw-1"]).toEqual({
      description: "tenant server btw-1",
      value: {
        name: "btw-1",
        id: "${hcloud_server.server_btw-1.id}",
        ipv4: "${hcloud_server.server_btw-1.ipv4_address}",
        ipv6: "${hcloud_server.server_btw-1.ipv6_address}",
        private_ip: "10.0.1.11",
        role: "tenant",
        server_type: "cpx32",
      },
    });
  });

  it("never writes a secret: the Hetzner token from the config stays out of the JSON", () => {
    const secret = synth(infraConfig({ hetzner: { token: "hcloud-secret-token-123" } }));
    expect(secret.text).not.toContain("hcloud-secret-token-123");
    expect(text).not.toContain("token");
  });
});

describe("infra synth with the central Postgres", () => {
  it("uses the pg backend with only the schema: the connection string comes from PG_CONN_STR", () => {
    const url = "postgres://btw:s3cret-pw@db.internal:5432/btw";
    const { json, text } = synth(infraConfig({ database: { url }, hetzner: {} }), { type: "pg", schemaName: "btw_terraform" });
    expect(json.terraform.backend).toEqual({ pg: { schema_name: "btw_terraform" } });
    expect(text).not.toContain("s3cret-pw");
    expect(text).not.toContain("conn_str");
  });
});

describe("infra synth for a large fleet", () => {
  it("spreads 25 servers over 3 placement groups of at most 10 (Hetzner's limit)", () => {
    const { json } = synth(infraConfig({ hetzner: { servers: 25 } }));
    expect(Object.keys(json.resource.hcloud_placement_group).sort()).toEqual(["spread_1", "spread_2", "spread_3"]);
    const group = (n: number) => json.resource.hcloud_server[`server_btw-${n}`].placement_group_id;
    expect([group(1), group(10), group(11), group(20), group(21), group(25)]).toEqual([
      "${hcloud_placement_group.spread_1.id}",
      "${hcloud_placement_group.spread_1.id}",
      "${hcloud_placement_group.spread_2.id}",
      "${hcloud_placement_group.spread_2.id}",
      "${hcloud_placement_group.spread_3.id}",
      "${hcloud_placement_group.spread_3.id}",
    ]);
    expect(json.resource.hcloud_server["server_btw-25"].network[0].ip).toBe("10.0.1.35");
  });

  it("takes server type, location, image, prefix and extra labels from the config", () => {
    const { json } = synth(
      infraConfig({ hetzner: { servers: 1, serverType: "ccx33", location: "hel1", image: "debian-12", namePrefix: "acme", labels: { env: "prod" } } }),
    );
    const s = json.resource.hcloud_server["server_acme-1"];
    expect([s.name, s.server_type, s.location, s.image]).toEqual(["acme-1", "ccx33", "hel1", "debian-12"]);
    expect(s.labels).toEqual({ env: "prod", "managed-by": "btw", "btw-stack": "platform", "btw-role": "tenant" });
    expect(json.resource.hcloud_network.network.name).toBe("acme-private");
  });
});
