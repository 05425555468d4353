import { TerraformProvider } from "cdktn";
import type { Construct } from "constructs";

// hand-written binding: provider "hcloud" (hetznercloud/hcloud). No prebuilt bindings exist
// on npm; attribute names are the provider's own (snake_case), not converted by cdktn.

export const HCLOUD_SOURCE = "hetznercloud/hcloud";

export interface HcloudProviderConfig {
  /** Pinned in required_providers, e.g. "~> 1.68". */
  version: string;
  /** Leave unset: the provider reads HCLOUD_TOKEN, so the token never lands in cdk.tf.json. */
  token?: string;
  endpoint?: string;
  /** e.g. "1s"; raise it when Hetzner rate-limits */
  pollInterval?: string;
}

export class HcloudProvider extends TerraformProvider {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: HcloudProviderConfig,
  ) {
    super(scope, id, {
      terraformResourceType: "hcloud",
      terraformProviderSource: HCLOUD_SOURCE,
      terraformGeneratorMetadata: { providerName: "hcloud", providerVersionConstraint: config.version },
    });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { token: this.config.token, endpoint: this.config.endpoint, poll_interval: this.config.pollInterval };
  }
}
