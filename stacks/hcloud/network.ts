import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// resource "hcloud_network": name, ip_range, labels, delete_protection, expose_routes_to_vswitch.
// resource "hcloud_network_subnet": network_id, type, network_zone, ip_range, vswitch_id.

export interface NetworkConfig extends TerraformMetaArguments {
  name: string;
  ipRange: string;
  labels?: Labels;
  deleteProtection?: boolean;
  exposeRoutesToVswitch?: boolean;
}

export class Network extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: NetworkConfig,
  ) {
    super(scope, id, "hcloud_network", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return { name: c.name, ip_range: c.ipRange, labels: c.labels, delete_protection: c.deleteProtection, expose_routes_to_vswitch: c.exposeRoutesToVswitch };
  }
}

export type SubnetType = "cloud" | "server" | "vswitch";
export type NetworkZone = "eu-central" | "us-east" | "us-west" | "ap-southeast";

export interface NetworkSubnetConfig extends TerraformMetaArguments {
  networkId: number;
  type: SubnetType;
  networkZone: NetworkZone | string;
  ipRange: string;
  vswitchId?: number;
}

export class NetworkSubnet extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: NetworkSubnetConfig,
  ) {
    super(scope, id, "hcloud_network_subnet", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return { network_id: c.networkId, type: c.type, network_zone: c.networkZone, ip_range: c.ipRange, vswitch_id: c.vswitchId };
  }
}
