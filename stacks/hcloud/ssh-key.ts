import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// resource "hcloud_ssh_key": name, public_key, labels.

export interface SshKeyConfig extends TerraformMetaArguments {
  name: string;
  publicKey: string;
  labels?: Labels;
}

export class SshKey extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: SshKeyConfig,
  ) {
    super(scope, id, "hcloud_ssh_key", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { name: this.config.name, public_key: this.config.publicKey, labels: this.config.labels };
  }
}
