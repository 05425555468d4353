import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// Hetzner DNS in the Cloud API (documented by the provider 1.68; marked "experimental" there):
// resource "hcloud_zone": name, mode (primary|secondary), ttl, labels, delete_protection.
// resource "hcloud_zone_rrset": zone (id or name), name (relative, "@" for the apex), type,
//   ttl, labels, change_protection, records [{value, comment}] (an attribute list). One
//   resource per name + type; the provider prefers it over hcloud_zone_record.

export interface ZoneConfig extends TerraformMetaArguments {
  name: string;
  mode: "primary";
  ttl?: number;
  labels?: Labels;
  deleteProtection?: boolean;
}

export class Zone extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: ZoneConfig,
  ) {
    super(scope, id, "hcloud_zone", metaArguments(config));
  }

  get zoneName(): string {
    return this.getStringAttribute("name");
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return { name: c.name, mode: c.mode, ttl: c.ttl, labels: c.labels, delete_protection: c.deleteProtection };
  }
}

export interface ZoneRrsetConfig extends TerraformMetaArguments {
  /** the zone's id or name */
  zone: string;
  /** relative to the zone: "@" is the apex, "*" the wildcard */
  name: string;
  type: "A" | "AAAA" | "CNAME" | "TXT";
  ttl?: number;
  labels?: Labels;
  records: Array<{ value: string; comment?: string }>;
}

export class ZoneRrset extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: ZoneRrsetConfig,
  ) {
    super(scope, id, "hcloud_zone_rrset", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return { zone: c.zone, name: c.name, type: c.type, ttl: c.ttl, labels: c.labels, records: c.records.map((r) => ({ value: r.value, comment: r.comment })) };
  }
}
