import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configSchema, type Config, type RawConfig } from "../../../src/config/schema.js";
import type { SpecAssets } from "../../../src/core/infra/spec.js";

export const ROOT = join(import.meta.dirname, "..", "..", "..");

export const OPS_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb7bWnJhZ0xkK6c3aZ0mQ9l1y2bHq8m1v0Zr3n5sTtU ops@laptop";

/** A config as btw would load it: the given keys over the schema's defaults. */
export function infraConfig(raw: Partial<RawConfig> & { hetzner?: RawConfig["hetzner"] } = {}): Config {
  return configSchema.parse({
    domain: "example.com",
    ...raw,
    hetzner: { adminCidrs: ["203.0.113.7/32"], sshKeys: [{ name: "ops", publicKey: OPS_KEY }], ...raw.hetzner },
  });
}

export function readAsset(relative: string): string {
  return readFileSync(join(ROOT, relative), "utf8");
}

export function assets(): SpecAssets {
  return {
    cloudConfig: readAsset("templates/cloud-init/cloud-config.yml"),
    bootstrapScript: readAsset("templates/cloud-init/bootstrap.sh"),
    proxyCompose: readAsset("templates/proxy/compose.yml"),
  };
}
