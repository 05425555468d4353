import type { TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";
import { HcloudResource, metaArguments, type Labels } from "./resource.js";

// resource "hcloud_placement_group": name, type ("spread"), labels.

export interface PlacementGroupConfig extends TerraformMetaArguments {
  name: string;
  type: "spread";
  labels?: Labels;
}

export class PlacementGroup extends HcloudResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: PlacementGroupConfig,
  ) {
    super(scope, id, "hcloud_placement_group", metaArguments(config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { name: this.config.name, type: this.config.type, labels: this.config.labels };
  }
}
