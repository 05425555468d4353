// Shared inputs for the tenant tests: the default config's plans and images.
import { configSchema, type Plan } from "../../../src/config/schema.js";
import type { TenantEnvInput } from "../../../src/core/tenant/env.js";

export const config = configSchema.parse({ domain: "example.com" });

export function plan(name: string): Plan {
  const p = config.plans[name];
  if (p === undefined) throw new Error(`no plan ${name}`);
  return p;
}

export const SECRETS = {
  postgresPassword: "PgPass0123456789abcdefghijklmnop",
  redisPassword: "RedisPass0123456789abcdefghijklm",
  encryptionKey: "EncKey0123456789abcdefghijklmnopqrstuvwxyzABCDEF",
} as const;

export function envInput(overrides: Partial<TenantEnvInput> = {}): TenantEnvInput {
  return {
    slug: "acme",
    domain: "example.com",
    plan: plan("starter"),
    images: config.images,
    timezone: "Europe/Paris",
    subnet: "10.220.0.64/26",
    tls: "auto",
    secrets: SECRETS,
    ...overrides,
  };
}
