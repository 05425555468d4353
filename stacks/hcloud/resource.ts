import { TerraformResource, type TerraformMetaArguments } from "cdktn";
import type { Construct } from "constructs";

/** Base of the hand-written hcloud resources: the type name and the provider's metadata. */
export abstract class HcloudResource extends TerraformResource {
  constructor(scope: Construct, id: string, type: string, meta: TerraformMetaArguments = {}) {
    super(scope, id, { terraformResourceType: type, terraformGeneratorMetadata: { providerName: "hcloud" }, ...meta });
  }

  /** `id` as Terraform reports it (an integer for most hcloud resources). */
  get idNumber(): number {
    return this.getNumberAttribute("id");
  }

  get idString(): string {
    return this.getStringAttribute("id");
  }
}

export type Labels = Record<string, string>;

/** Only Terraform's meta-arguments (depends_on, lifecycle, …) of a resource's config. */
export function metaArguments(c: TerraformMetaArguments): TerraformMetaArguments {
  return {
    ...(c.dependsOn ? { dependsOn: c.dependsOn } : {}),
    ...(c.count !== undefined ? { count: c.count } : {}),
    ...(c.provider ? { provider: c.provider } : {}),
    ...(c.lifecycle ? { lifecycle: c.lifecycle } : {}),
    ...(c.forEach ? { forEach: c.forEach } : {}),
  };
}
