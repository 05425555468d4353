import type { Config } from "../src/config/schema.js";
import { platformSpec, type PlatformSpec } from "../src/core/infra/spec.js";
import type { Backend } from "../src/core/infra/terraform.js";
import { asset } from "../src/ops/assets.js";
import { synthPlatform, type SynthResult } from "./synth.js";

/** The platform spec from the config and the shipped templates (cloud-init, proxy). */
export function specFromConfig(config: Config): PlatformSpec {
  return platformSpec(config, {
    cloudConfig: asset("templates/cloud-init/cloud-config.yml"),
    bootstrapScript: asset("templates/cloud-init/bootstrap.sh"),
    proxyCompose: asset("templates/proxy/compose.yml"),
  });
}

export function synthFromConfig(config: Config, backend: Backend, outdir: string): { spec: PlatformSpec; result: SynthResult } {
  const spec = specFromConfig(config);
  return { spec, result: synthPlatform(spec, backend, outdir) };
}
