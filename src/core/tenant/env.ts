// The per-tenant .env next to templates/tenant/compose.yml: every value that differs between
// tenants (names, subnets, images, plan limits, mode, secrets) and nothing else. The compose
// file is the same for everyone; `${VAR:?}` there makes a missing key fail loudly.

import { createHmac } from "node:crypto";
import { planRunner, type Plan } from "../../config/schema.js";
import { UsageError } from "../../errors.js";
import { binaryDataMode } from "../backup/consistency.js";
import { formatCidr, parseCidr, splitCidr } from "../subnets.js";
import { renderEnvFile, type EnvSection } from "./dotenv.js";
import { isPgdataVolumeOf, requireTenantSlug, tenantHost, tenantLayout } from "./layout.js";
import { TENANT_SECRET_PATTERN, type TenantSecrets } from "./secrets.js";

export type TenantEnvSecrets = Pick<TenantSecrets, "postgresPassword" | "redisPassword" | "encryptionKey">;

export interface TenantEnvInput {
  slug: string;
  /** base domain: the tenant is served at <slug>.<domain> */
  domain: string;
  plan: Plan;
  images: { n8n: string; postgres: string; redis: string };
  /** the volume Postgres runs on (a major upgrade makes a new one); default the layout's */
  pgdataVolume?: string;
  /** IANA zone, e.g. Europe/Paris */
  timezone: string;
  /** the tenant's block from the pool, e.g. 10.220.0.64/26 (split into internal and edge) */
  subnet: string;
  tls: "auto" | "off";
  secrets: TenantEnvSecrets;
  pruning?: ExecutionPruning;
  /** the owning state's uuid (labels); null/absent: unlabelled (a state predating 006) */
  stateId?: string | null;
  /** a scratch stack (backup verify): labelled for the stale-stack sweep, edge network internal */
  scratch?: ScratchMarks;
  /** a custom domain of the tenant that n8n's webhook URL uses (`tenant domain add --webhook-url`) */
  webhookHost?: string | null;
}

export interface ScratchMarks {
  /** ISO 8601 UTC, when the stack was made */
  createdAt: string;
  /** `<host>:<pid>` of the btw process that owns it: a dead owner means a stale stack */
  owner: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const OWNER = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}:\d{1,10}$/;

function ownership(input: TenantEnvInput): Pick<TenantEnv, "BTW_STATE" | "BTW_SCRATCH" | "BTW_CREATED_AT" | "BTW_OWNER" | "EDGE_INTERNAL"> {
  const state = input.stateId ?? "";
  if (state !== "" && !UUID.test(state)) throw new UsageError(`state id ${JSON.stringify(state)} is not a uuid`, { code: "invalid-state-id" });
  const s = input.scratch;
  if (s && !ISO_UTC.test(s.createdAt)) throw new UsageError(`scratch createdAt ${JSON.stringify(s.createdAt)} is not an ISO UTC time`, { code: "invalid-scratch" });
  if (s && !OWNER.test(s.owner)) throw new UsageError(`scratch owner ${JSON.stringify(s.owner)} is not host:pid`, { code: "invalid-scratch" });
  return {
    BTW_STATE: state,
    BTW_SCRATCH: s ? "1" : "0",
    BTW_CREATED_AT: s?.createdAt ?? "",
    BTW_OWNER: s?.owner ?? "",
    EDGE_INTERNAL: s ? "true" : "false",
  };
}

export interface ExecutionPruning {
  maxAgeHours: number;
  maxCount: number;
}

/** n8n's own defaults are 336 h and 10,000 executions; they suit every plan today. */
export const DEFAULT_PRUNING: ExecutionPruning = { maxAgeHours: 336, maxCount: 10_000 };

/** Share of Redis's memory limit given to `maxmemory` (the rest: fork for AOF rewrite, buffers). */
const REDIS_MAXMEMORY_SHARE = 0.75;

/**
 * The smallest tenant block: each half (/29) holds its gateway and 5 containers (+ network,
 * broadcast). Internal: Postgres, Redis, n8n, worker. Edge: n8n, the proxy, the runner, and in
 * queue mode the worker and its runner — 5.
 */
export const MAX_TENANT_PREFIX = 28;

/** Keys in file order, grouped as rendered. */
export const TENANT_ENV_SECTIONS = {
  "Compose project (also lets an operator run plain `docker compose` in this directory)": ["COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"],
  "Identity and addressing": ["TENANT", "TENANT_SUBNET", "INTERNAL_SUBNET", "EDGE_SUBNET"],
  Images: ["N8N_IMAGE", "POSTGRES_IMAGE", "REDIS_IMAGE"],
  "Postgres data volume (a new major gets a new one: btw upgrade postgres)": ["PGDATA_VOLUME"],
  n8n: [
    "N8N_HOST",
    "N8N_PROTOCOL",
    "N8N_EDITOR_BASE_URL",
    "WEBHOOK_URL",
    "N8N_SECURE_COOKIE",
    "GENERIC_TIMEZONE",
    "EXECUTIONS_MODE",
    "N8N_DEFAULT_BINARY_DATA_MODE",
    "EXECUTIONS_DATA_MAX_AGE",
    "EXECUTIONS_DATA_PRUNE_MAX_COUNT",
  ],
  "Plan limits per service: cpus (cap), cpu shares (reservation when the server is busy), memory, pids": [
    "N8N_CPUS", "N8N_CPU_SHARES", "N8N_MEMORY", "N8N_PIDS",
    "WORKER_CPUS", "WORKER_CPU_SHARES", "WORKER_MEMORY", "WORKER_PIDS",
    "POSTGRES_CPUS", "POSTGRES_CPU_SHARES", "POSTGRES_MEMORY", "POSTGRES_PIDS",
    "REDIS_CPUS", "REDIS_CPU_SHARES", "REDIS_MEMORY", "REDIS_PIDS", "REDIS_MAXMEMORY",
    "RUNNER_CPUS", "RUNNER_CPU_SHARES", "RUNNER_MEMORY", "RUNNER_PIDS", "RUNNER_HEAP_MB",
  ],
  "Ownership (container labels) and quarantine (scratch stacks: no egress)": ["BTW_STATE", "BTW_SCRATCH", "BTW_CREATED_AT", "BTW_OWNER", "EDGE_INTERNAL"],
  "Secrets: this file is mode 0600": ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_ENCRYPTION_KEY", "N8N_RUNNERS_AUTH_TOKEN"],
} as const;

type Sections = typeof TENANT_ENV_SECTIONS;
export type TenantEnvKey = Sections[keyof Sections][number];
export type TenantEnv = Record<TenantEnvKey, string>;

export const TENANT_ENV_KEYS: readonly TenantEnvKey[] = Object.values(TENANT_ENV_SECTIONS).flat();

/** Keys whose values are secrets: never print them. */
export const TENANT_ENV_SECRET_KEYS: readonly TenantEnvKey[] = TENANT_ENV_SECTIONS["Secrets: this file is mode 0600"];

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Whether this machine's ICU knows `tz` as a time zone (the default tenant zone of `init`, a tenant's at create). */
export function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why `zone` is not a time zone this machine's ICU knows, or null. */
export function timezoneProblem(zone: string): string | null {
  if (!/^[A-Za-z][A-Za-z0-9_+\-\/]{0,63}$/.test(zone)) return `time zone ${JSON.stringify(zone)} is not an IANA name like Europe/Paris`;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return null;
  } catch {
    return `unknown time zone ${JSON.stringify(zone)}; use an IANA name like Europe/Paris`;
  }
}

/**
 * The tenant block's two halves: internal (Postgres, Redis, n8n, worker) gets the lower,
 * edge (n8n, the proxy, the runners) the upper. Carving edge from the tenant's own block, rather than
 * letting Docker pick from its default pools, matters at scale: those pools hold only ~30
 * networks per host, and a server of 40 tenants needs 40 edge networks.
 */
export function splitTenantSubnet(subnet: string): { internal: string; edge: string } {
  const block = parseCidr(subnet);
  if (block.prefix > MAX_TENANT_PREFIX) {
    throw new UsageError(`tenant subnet ${subnet} is too small: a tenant needs at least a /${MAX_TENANT_PREFIX}`, {
      code: "invalid-subnet",
      hint: `set placement.subnetPrefix to ${MAX_TENANT_PREFIX} or less`,
    });
  }
  const [internal, edge] = splitCidr(block);
  return { internal: formatCidr(internal), edge: formatCidr(edge) };
}

/**
 * The token n8n's task broker asks of a runner: derived from the tenant's encryption key
 * (HMAC-SHA256, a fixed label), so every tenant has its own without a new stored secret, and
 * nothing about the key can be learnt from it. 43 characters of base64url.
 */
export function runnersAuthToken(encryptionKey: string): string {
  return createHmac("sha256", encryptionKey).update("btw/n8n-runners-auth-token/v1").digest("base64url");
}

/** Share of a runner's memory limit given to its JS heap (the rest: code, buffers, the customer's Buffers). */
const RUNNER_HEAP_SHARE = 0.75;

/** Number → Docker's decimal CPU count ("0.5", "1.5"); never exponent notation. */
/**
 * Docker's cpu_shares (cgroup v2: cpu.weight) for a reservation in CPUs: 1024 a CPU, as
 * Kubernetes maps requests. Only relative between containers, and only when the CPU is busy.
 */
export function cpuShares(service: { cpus: number; cpuReserved?: number | undefined }): string {
  // within the cap: an overlay that lowers cpus below a default's reservation lowers both
  const reserved = Math.min(service.cpuReserved ?? service.cpus, service.cpus);
  formatCpus(reserved);
  return String(Math.max(2, Math.round(reserved * 1024)));
}

export function formatCpus(cpus: number): string {
  if (!Number.isFinite(cpus) || cpus <= 0 || cpus > 1024) throw new UsageError(`invalid CPU limit ${cpus}`, { code: "invalid-limit" });
  return String(Math.round(cpus * 1000) / 1000);
}

/** Megabytes → Docker's memory string ("768m"). */
export function formatMemory(memoryMb: number): string {
  if (!Number.isInteger(memoryMb) || memoryMb < 6) throw new UsageError(`invalid memory limit ${memoryMb} MB`, { code: "invalid-limit" });
  return `${memoryMb}m`;
}

function formatPids(pids: number): string {
  if (!Number.isInteger(pids) || pids < 1) throw new UsageError(`invalid pids limit ${pids}`, { code: "invalid-limit" });
  return String(pids);
}

function positiveInt(name: string, n: number): string {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer (got ${n})`, { code: "invalid-pruning" });
  return String(n);
}

function pgdataVolume(slug: string, volume: string | undefined): string {
  if (volume === undefined) return tenantLayout(slug).volumes.pgdata;
  if (!isPgdataVolumeOf(slug, volume)) throw new UsageError(`${JSON.stringify(volume)} is not a Postgres data volume of ${slug}`, { code: "invalid-volume" });
  return volume;
}

/** All .env values for one tenant, keyed in file order. Throws UsageError on bad input. */
export function tenantEnvValues(input: TenantEnvInput): TenantEnv {
  const { slug, plan, tls } = input;
  const layout = tenantLayout(requireTenantSlug(slug));
  if (!DNS_NAME.test(input.domain)) throw new UsageError(`domain ${JSON.stringify(input.domain)} is not a DNS name like example.com`, { code: "invalid-domain" });
  const tz = timezoneProblem(input.timezone);
  if (tz !== null) throw new UsageError(tz, { code: "invalid-timezone" });
  for (const [name, value] of Object.entries(input.secrets)) {
    // The value itself is never echoed.
    if (!TENANT_SECRET_PATTERN.test(value)) {
      throw new UsageError(`tenant secret ${name} must be 16–128 characters of A–Z a–z 0–9 _ -`, { code: "invalid-secret" });
    }
  }
  const { internal, edge } = splitTenantSubnet(input.subnet);
  const host = tenantHost(slug, input.domain);
  const protocol = tls === "off" ? "http" : "https";
  const url = `${protocol}://${host}/`;
  if (input.webhookHost != null && !DNS_NAME.test(input.webhookHost)) throw new UsageError(`webhook host ${JSON.stringify(input.webhookHost)} is not a DNS name`, { code: "invalid-hostname" });
  const webhookUrl = input.webhookHost != null ? `${protocol}://${input.webhookHost}/` : url;
  const queue = plan.queueMode;
  const worker = plan.worker ?? plan.n8n;
  const runner = planRunner(plan);
  const pruning = input.pruning ?? DEFAULT_PRUNING;
  return {
    COMPOSE_PROJECT_NAME: layout.project,
    COMPOSE_PROFILES: queue ? "queue" : "",
    TENANT: slug,
    TENANT_SUBNET: input.subnet,
    INTERNAL_SUBNET: internal,
    EDGE_SUBNET: edge,
    N8N_IMAGE: input.images.n8n,
    POSTGRES_IMAGE: input.images.postgres,
    REDIS_IMAGE: input.images.redis,
    PGDATA_VOLUME: pgdataVolume(slug, input.pgdataVolume),
    N8N_HOST: host,
    N8N_PROTOCOL: protocol,
    N8N_EDITOR_BASE_URL: url,
    WEBHOOK_URL: webhookUrl,
    N8N_SECURE_COOKIE: tls === "off" ? "false" : "true",
    GENERIC_TIMEZONE: input.timezone,
    EXECUTIONS_MODE: queue ? "queue" : "regular",
    // In queue mode the worker runs executions and has no access to the main container's
    // filesystem, so binary data must live in the database (a backup records it too).
    N8N_DEFAULT_BINARY_DATA_MODE: binaryDataMode(queue),
    EXECUTIONS_DATA_MAX_AGE: positiveInt("pruning.maxAgeHours", pruning.maxAgeHours),
    EXECUTIONS_DATA_PRUNE_MAX_COUNT: positiveInt("pruning.maxCount", pruning.maxCount),
    N8N_CPUS: formatCpus(plan.n8n.cpus),
    N8N_CPU_SHARES: cpuShares(plan.n8n),
    N8N_MEMORY: formatMemory(plan.n8n.memoryMb),
    N8N_PIDS: formatPids(plan.n8n.pids),
    // Always set, even without a worker: Compose interpolates disabled profiles too.
    WORKER_CPUS: formatCpus(worker.cpus),
    WORKER_CPU_SHARES: cpuShares(worker),
    WORKER_MEMORY: formatMemory(worker.memoryMb),
    WORKER_PIDS: formatPids(worker.pids),
    POSTGRES_CPUS: formatCpus(plan.postgres.cpus),
    POSTGRES_CPU_SHARES: cpuShares(plan.postgres),
    POSTGRES_MEMORY: formatMemory(plan.postgres.memoryMb),
    POSTGRES_PIDS: formatPids(plan.postgres.pids),
    REDIS_CPUS: formatCpus(plan.redis.cpus),
    REDIS_CPU_SHARES: cpuShares(plan.redis),
    REDIS_MEMORY: formatMemory(plan.redis.memoryMb),
    REDIS_PIDS: formatPids(plan.redis.pids),
    // Redis reads "m" as 10^6 bytes; "mb" is MiB like Docker's "m".
    REDIS_MAXMEMORY: `${Math.max(16, Math.floor(plan.redis.memoryMb * REDIS_MAXMEMORY_SHARE))}mb`,
    RUNNER_CPUS: formatCpus(runner.cpus),
    RUNNER_CPU_SHARES: cpuShares(runner),
    RUNNER_MEMORY: formatMemory(runner.memoryMb),
    RUNNER_PIDS: formatPids(runner.pids),
    RUNNER_HEAP_MB: String(Math.max(32, Math.floor(runner.memoryMb * RUNNER_HEAP_SHARE))),
    ...ownership(input),
    POSTGRES_PASSWORD: input.secrets.postgresPassword,
    REDIS_PASSWORD: input.secrets.redisPassword,
    N8N_ENCRYPTION_KEY: input.secrets.encryptionKey,
    N8N_RUNNERS_AUTH_TOKEN: runnersAuthToken(input.secrets.encryptionKey),
  };
}

/** The .env file text for one tenant (to be written with mode 0600). */
export function renderTenantEnv(input: TenantEnvInput): string {
  const values = tenantEnvValues(input);
  const sections: EnvSection[] = Object.entries(TENANT_ENV_SECTIONS).map(([comment, keys]) => ({
    comment,
    entries: keys.map((key: TenantEnvKey) => [key, values[key]] as const),
  }));
  return renderEnvFile(
    [`btw tenant ${input.slug}: values for compose.yml in this directory.`, "Written by btw from its state; edits are overwritten."],
    sections,
  );
}
