import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// resource "hcloud_firewall": name, labels, blocks `rule` {direction, protocol, port,
// source_ips, destination_ips, description} and `apply_to` {label_selector | server}.
// resource "hcloud_firewall_attachment": firewall_id, server_ids, label_selectors.

export interface FirewallRuleBlock {
  direction: "in" | "out";
  protocol: "tcp" | "udp" | "icmp" | "gre" | "esp";
  /** "22", "80-85" or "any"; tcp and udp only */
  port?: string;
  sourceIps?: string[];
  destinationIps?: string[];
  description?: string;
}

export interface FirewallApplyTo {
  labelSelector?: string;
  server?: number;
}

export interface FirewallConfig extends TerraformMetaArguments {
  name: string;
  labels?: Labels;
  rules?: FirewallRuleBlock[];
  applyTo?: FirewallApplyTo[];
}

export class Firewall extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: FirewallConfig,
  ) {
    super(scope, id, "hcloud_firewall", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: c.name,
      labels: c.labels,
      rule: c.rules?.map((r) => ({
        direction: r.direction,
        protocol: r.protocol,
        port: r.port,
        source_ips: r.sourceIps,
        destination_ips: r.destinationIps,
        description: r.description,
      })),
      apply_to: c.applyTo?.map((a) => ({ label_selector: a.labelSelector, server: a.server })),
    };
  }
}

export interface FirewallAttachmentConfig extends TerraformMetaArguments {
  firewallId: number;
  serverIds?: number[];
  labelSelectors?: string[];
}

/** Only one attachment per firewall: it lists everything the firewall applies to. */
export class FirewallAttachment extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: FirewallAttachmentConfig,
  ) {
    super(scope, id, "hcloud_firewall_attachment", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return { firewall_id: c.firewallId, server_ids: c.serverIds, label_selectors: c.labelSelectors };
  }
}
