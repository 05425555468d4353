import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// resource "hcloud_server". Arguments as the provider documents them (v1.68): name,
// server_type, image, location, user_data (≤ 32 KiB), ssh_keys, labels, backups,
// firewall_ids, ignore_remote_firewall_ids, placement_group_id, delete_protection =
// rebuild_protection, shutdown_before_deletion, keep_disk, allow_deprecated_images; blocks
// public_net {ipv4_enabled, ipv6_enabled, ipv4, ipv6} and network {subnet_id | network_id,
// ip, alias_ips}. Exports id, ipv4_address, ipv6_address, status.

export interface ServerPublicNet {
  ipv4Enabled: boolean;
  ipv6Enabled: boolean;
  /** a primary IP's id */
  ipv4?: number;
  ipv6?: number;
}

export interface ServerNetwork {
  /** recommended over networkId since provider 1.63 */
  subnetId?: string;
  networkId?: number;
  ip?: string;
  /** set it (even empty): Terraform ≥ 1.4 otherwise re-attaches the network on every apply */
  aliasIps?: string[];
}

export interface ServerConfig extends TerraformMetaArguments {
  name: string;
  serverType: string;
  image: string;
  location?: string;
  userData?: string;
  /** ids or names of hcloud_ssh_key */
  sshKeys?: string[];
  labels?: Labels;
  backups?: boolean;
  firewallIds?: number[];
  ignoreRemoteFirewallIds?: boolean;
  placementGroupId?: number;
  /** must equal rebuildProtection */
  deleteProtection?: boolean;
  rebuildProtection?: boolean;
  shutdownBeforeDeletion?: boolean;
  keepDisk?: boolean;
  allowDeprecatedImages?: boolean;
  publicNet?: ServerPublicNet[];
  network?: ServerNetwork[];
}

export class Server extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: ServerConfig,
  ) {
    super(scope, id, "hcloud_server", metaArguments(config));
  }

  get ipv4Address(): string {
    return this.getStringAttribute("ipv4_address");
  }

  get ipv6Address(): string {
    return this.getStringAttribute("ipv6_address");
  }

  get status(): string {
    return this.getStringAttribute("status");
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: c.name,
      server_type: c.serverType,
      image: c.image,
      location: c.location,
      user_data: c.userData,
      ssh_keys: c.sshKeys,
      labels: c.labels,
      backups: c.backups,
      firewall_ids: c.firewallIds,
      ignore_remote_firewall_ids: c.ignoreRemoteFirewallIds,
      placement_group_id: c.placementGroupId,
      delete_protection: c.deleteProtection,
      rebuild_protection: c.rebuildProtection,
      shutdown_before_deletion: c.shutdownBeforeDeletion,
      keep_disk: c.keepDisk,
      allow_deprecated_images: c.allowDeprecatedImages,
      public_net: c.publicNet?.map((p) => ({ ipv4_enabled: p.ipv4Enabled, ipv6_enabled: p.ipv6Enabled, ipv4: p.ipv4, ipv6: p.ipv6 })),
      network: c.network?.map((n) => ({ subnet_id: n.subnetId, network_id: n.networkId, ip: n.ip, alias_ips: n.aliasIps })),
    };
  }
}
