import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "cdktn";
import type { PlatformSpec } from "../src/core/infra/spec.js";
import type { Backend } from "../src/core/infra/terraform.js";
import { PlatformStack } from "./platform-stack.js";

export interface SynthResult {
  outdir: string;
  manifest: string;
  stackDir: string;
  /** cdk.tf.json of the stack */
  stackFile: string;
  /** resources by type, e.g. { hcloud_server: 3 } */
  resources: Record<string, number>;
  outputs: string[];
}

/** Writes `<outdir>/manifest.json` and `<outdir>/stacks/<stack>/cdk.tf.json`. */
export function synthPlatform(spec: PlatformSpec, backend: Backend, outdir: string): SynthResult {
  const app = new App({ outdir, hclOutput: false, skipValidation: false, context: { failOnConstructsOutsideOfStacks: "true" } });
  new PlatformStack(app, spec, backend);
  app.synth();
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as {
    stacks: Record<string, { synthesizedStackPath: string; workingDirectory: string }>;
  };
  const entry = manifest.stacks[spec.stack];
  if (!entry) throw new Error(`cdktn did not write stack ${spec.stack} (manifest lists ${Object.keys(manifest.stacks).join(", ")})`);
  const stackFile = join(outdir, entry.synthesizedStackPath);
  const json = JSON.parse(readFileSync(stackFile, "utf8")) as { resource?: Record<string, Record<string, unknown>>; output?: Record<string, unknown> };
  const resources = Object.fromEntries(Object.entries(json.resource ?? {}).map(([type, byName]) => [type, Object.keys(byName).length]));
  return {
    outdir,
    manifest: join(outdir, "manifest.json"),
    stackDir: join(outdir, entry.workingDirectory),
    stackFile,
    resources,
    outputs: Object.keys(json.output ?? {}),
  };
}
