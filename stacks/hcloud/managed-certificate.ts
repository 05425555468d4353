import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// resource "hcloud_managed_certificate": name, domain_names, labels. Hetzner obtains it
// (Let's Encrypt, DNS-01) for names in a zone hosted in Hetzner DNS, and renews it.

export interface ManagedCertificateConfig extends TerraformMetaArguments {
  name: string;
  domainNames: string[];
  labels?: Labels;
}

export class ManagedCertificate extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: ManagedCertificateConfig,
  ) {
    super(scope, id, "hcloud_managed_certificate", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { name: this.config.name, domain_names: this.config.domainNames, labels: this.config.labels };
  }
}
