import { LocalBackend, TerraformBackend, TerraformOutput, TerraformStack, type TerraformRemoteState } from "cdktn";
import type { Construct } from "constructs";
import { serverOutputName, type PlatformSpec } from "../src/core/infra/spec.js";
import type { Backend } from "../src/core/infra/terraform.js";
import type { EdgeSpec } from "../src/core/infra/edge.js";
import {
  Firewall,
  FirewallAttachment,
  HcloudProvider,
  LoadBalancer,
  LoadBalancerNetwork,
  LoadBalancerService,
  LoadBalancerTarget,
  ManagedCertificate,
  Network,
  NetworkSubnet,
  PlacementGroup,
  Server,
  SshKey,
  Zone,
  ZoneRrset,
} from "./hcloud/index.js";

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
    if (spec.edge) this.edge(spec.edge, subnet, spec.protection);
  }

  /**
   * proxy.mode edge: the load balancer on the private network, HTTPS with the managed
   * certificate forwarded as HTTP to the edge servers' private addresses (selected by
   * label), and `*.<domain>` (+ the apex) pointing at it in Hetzner DNS (hcloud_zone_rrset).
   */
  private edge(e: EdgeSpec, subnet: NetworkSubnet, protection: boolean): void {
    const lb = new LoadBalancer(this, e.loadBalancer.id, {
      name: e.loadBalancer.name,
      loadBalancerType: e.loadBalancer.type,
      location: e.loadBalancer.location,
      labels: e.loadBalancer.labels,
      deleteProtection: protection,
    });
    const lbNetwork = new LoadBalancerNetwork(this, e.network.id, {
      loadBalancerId: lb.idNumber,
      subnetId: subnet.idString,
      ip: e.network.ip,
      enablePublicInterface: e.network.enablePublicInterface,
    });
    const certificate = new ManagedCertificate(this, e.certificate.id, {
      name: e.certificate.name,
      domainNames: e.certificate.domainNames,
      labels: e.certificate.labels,
      // the provider's advice: the service moves to the new certificate before the old goes
      lifecycle: { createBeforeDestroy: true },
    });
    const hc = e.service.healthCheck;
    new LoadBalancerService(this, e.service.id, {
      loadBalancerId: lb.idNumber,
      protocol: e.service.protocol,
      listenPort: e.service.listenPort,
      destinationPort: e.service.destinationPort,
      http: { certificates: [certificate.idNumber], redirectHttp: e.service.redirectHttp },
      healthCheck: { protocol: hc.protocol, port: hc.port, interval: hc.interval, timeout: hc.timeout, retries: hc.retries, http: { path: hc.path, statusCodes: hc.statusCodes } },
    });
    new LoadBalancerTarget(this, e.target.id, {
      type: "label_selector",
      loadBalancerId: lb.idNumber,
      labelSelector: e.target.labelSelector,
      usePrivateIp: e.target.usePrivateIp,
      // private targets need the load balancer on the network first
      dependsOn: [lbNetwork],
    });
    const zone = e.dns.manageZone ? new Zone(this, e.dns.zoneId, { name: e.dns.zone, mode: "primary", labels: e.dns.labels, deleteProtection: protection }).zoneName : e.dns.zone;
    for (const r of e.dns.records) {
      new ZoneRrset(this, r.id, { zone, name: r.name, type: r.type, ttl: r.ttl, labels: e.dns.labels, records: [{ value: r.target === "ipv4" ? lb.ipv4 : lb.ipv6, comment: "btw edge load balancer" }] });
    }
    new TerraformOutput(this, "output_edge", {
      value: { name: e.loadBalancer.name, id: lb.idString, ipv4: lb.ipv4, ipv6: lb.ipv6, private_ip: e.network.ip },
      description: "the edge load balancer",
    }).overrideLogicalId("edge_load_balancer");
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
