import { LocalBackend, TerraformBackend, TerraformOutput, TerraformStack, type TerraformRemoteState } from "cdktn";
import type { Construct } from "constructs";
import { serverOutputName, type PlatformSpec } from "../src/core/infra/spec.js";
import type { Backend } from "../src/core/infra/terraform.js";
import { Firewall, FirewallAttachment, HcloudProvider, Network, NetworkSubnet, PlacementGroup, Server, SshKey } from "./hcloud/index.js";

// The platform: tenant servers (and an optional monitoring server) on a private network,
// spread over placement groups, reachable only as the firewall allows. Everything is
// decided in src/core/infra/spec.ts; this file only turns that data into resources.
//
// Firewall on first boot: `hcloud_firewall_attachment` applies a firewall only after a
// server exists (provider docs), so each server is created with a rule-less "closed"
// firewall in `firewall_ids` — nothing reachable — and the platform firewall reaches it
// through the attachment's label selector (`btw-stack=<stack>`), which also covers servers
// added later. `ignore_remote_firewall_ids` keeps the selector's firewall from showing as drift.

export class PlatformStack extends TerraformStack {
  readonly servers: Server[] = [];

  constructor(scope: Construct, spec: PlatformSpec, backend: Backend) {
    super(scope, spec.stack);
    if (backend.type === "local") new LocalBackend(this, { path: backend.path });
    else new PgEnvBackend(this, backend.schemaName);

    new HcloudProvider(this, "hcloud", { version: spec.provider.version });

    const network = new Network(this, spec.network.id, { name: spec.network.name, ipRange: spec.network.ipRange, labels: spec.network.labels });
    const subnet = new NetworkSubnet(this, spec.subnet.id, {
      networkId: network.idNumber,
      type: spec.subnet.type,
      networkZone: spec.subnet.networkZone,
      ipRange: spec.subnet.ipRange,
    });
    const keys = spec.sshKeys.map((k) => new SshKey(this, k.id, { name: k.name, publicKey: k.publicKey, labels: k.labels }));
    const groups = new Map(spec.placementGroups.map((g) => [g.id, new PlacementGroup(this, g.id, { name: g.name, type: g.type, labels: g.labels })]));
    const closed = new Firewall(this, spec.closedFirewall.id, { name: spec.closedFirewall.name, labels: spec.closedFirewall.labels });
    const firewall = new Firewall(this, spec.firewall.id, {
      name: spec.firewall.name,
      labels: spec.firewall.labels,
      rules: spec.firewall.rules.map((r) => ({
        direction: r.direction,
        protocol: r.protocol,
        port: r.port,
        sourceIps: r.sourceIps,
        description: r.description,
      })),
    });
    const attachment = new FirewallAttachment(this, spec.attachment.id, { firewallId: firewall.idNumber, labelSelectors: [spec.attachment.labelSelector] });

    for (const s of spec.servers) {
      const server = new Server(this, s.id, {
        name: s.name,
        serverType: s.serverType,
        image: s.image,
        location: s.location,
        userData: s.userData,
        sshKeys: keys.map((k) => k.idString),
        labels: s.labels,
        firewallIds: [closed.idNumber],
        ignoreRemoteFirewallIds: true,
        placementGroupId: groups.get(s.placementGroup)!.idNumber,
        deleteProtection: spec.protection,
        rebuildProtection: spec.protection,
        shutdownBeforeDeletion: true,
        publicNet: [{ ipv4Enabled: true, ipv6Enabled: true }],
        network: [{ subnetId: subnet.idString, ip: s.privateIp, aliasIps: [] }],
        // The subnet must exist before a server joins it; the attachment's selector is in
        // place before the server boots, so its rules apply as soon as Hetzner matches it.
        dependsOn: [subnet, attachment],
        lifecycle: {
          // Changing any of these would replace the server (and its tenants): a new image,
          // key set or first-boot script applies to servers made from now on only.
          ignoreChanges: ["user_data", "image", "ssh_keys"],
        },
      });
      this.servers.push(server);
      new TerraformOutput(this, `output_${s.id}`, {
        value: {
          name: s.name,
          id: server.idString,
          ipv4: server.ipv4Address,
          ipv6: server.ipv6Address,
          private_ip: s.privateIp,
          role: s.role,
          server_type: s.serverType,
        },
        description: `${s.role} server ${s.name}`,
      }).overrideLogicalId(serverOutputName(s.name));
    }
  }
}

/**
 * Terraform's `pg` backend without `conn_str`: Terraform reads it from PG_CONN_STR, so the
 * database URL (a secret) stays out of cdk.tf.json. cdktn's PgBackend requires connStr.
 */
class PgEnvBackend extends TerraformBackend {
  constructor(
    scope: Construct,
    private readonly schemaName: string,
  ) {
    super(scope, "backend", "pg");
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { schema_name: this.schemaName };
  }

  getRemoteStateDataSource(_scope: Construct, _name: string, _fromStack: string): TerraformRemoteState {
    throw new Error("cross-stack references are not used by btw");
  }
}
