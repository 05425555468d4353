import { isIP } from "node:net";
import { z } from "zod";
import { monitoringSchema } from "./monitoring-schema.js";
import { notificationsSchema } from "./notifications-schema.js";
import { scheduleSchema } from "./schedule-schema.js";

// The configuration file's schema. Raw YAML is untrusted input: every object is strict
// (unknown keys are errors, so a typo never silently falls back to a default), and every
// default lives here, next to its type, never in the code that reads it.

const dnsName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "must be a DNS name like example.com");

const imageRef = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._\/:@-]*$/i, "must be an image reference")
  .refine((s) => /:[\w][\w.-]{0,127}$/.test(s) || s.includes("@sha256:"), "must be pinned by tag or digest (no implicit :latest)")
  .refine((s) => !s.endsWith(":latest"), "must not use :latest; pin a version");

const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, "must be an IPv4 CIDR like 10.0.0.0/16");
const anyCidr = z.string().regex(/^((\d{1,3}\.){3}\d{1,3}\/\d{1,2}|[0-9a-f:]*:[0-9a-f:]*\/\d{1,3})$/i, "must be an IPv4 or IPv6 CIDR like 203.0.113.7/32");
// Hetzner's label syntax: an optional DNS-subdomain prefix, a name, a value of ≤ 63 characters.
const hetznerLabelKey = z.string().regex(/^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/, "must be a Hetzner label key");
const hetznerLabelValue = z.string().regex(/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/, "must be a Hetzner label value");

const service = z
  .object({
    cpus: z.number().positive().max(64).describe("hard cap: what the service may burst to (n8n's boot, a heavy run)"),
    cpuReserved: z
      .number()
      .positive()
      .max(64)
      .optional()
      .describe("its share when the server is busy (Docker cpu_shares = 1024 × this, at most cpus); default: cpus"),
    memoryMb: z.number().int().min(64),
    memoryReservedMb: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("what it needs to run well, counted by placement against the server's memory (default: the figure measured for its role, src/core/capacity.ts); at most memoryMb"),
    pids: z.number().int().min(32),
  })
  .strict();

export const planSchema = z
  .object({
    priceEurMonth: z.number().nonnegative().nullable().default(null).describe("null = custom pricing"),
    executionsPerMonth: z.number().int().positive().nullable().default(null).describe("null = unlimited"),
    activeWorkflows: z.number().int().positive().nullable().default(null),
    articlesPerWeek: z.number().int().positive().nullable().default(null).describe("WF3 runs this often a week (null: the template's own schedule)"),
    executionRetentionDays: z.number().int().positive().default(90).describe("GDPR: n8n deletes execution data older than this (EXECUTIONS_DATA_MAX_AGE)"),
    executionRetentionCount: z.number().int().positive().default(10_000).describe("n8n keeps at most this many executions (EXECUTIONS_DATA_PRUNE_MAX_COUNT)"),
    contentRetentionDays: z
      .number()
      .int()
      .min(1)
      .max(36_500)
      .nullable()
      .default(180)
      .describe("GDPR: `tenant content prune` deletes content keywords and clusters older than this (articles are kept); null = keep"),
    support: z.enum(["email", "priority", "chat", "dedicated"]),
    // whole units: the state keeps a tenant's weight and a server's capacity as integers, so a
    // 0.5 would pass the config and then fail the create at its first insert
    weight: z.number().int("must be a whole number of capacity units (e.g. 1; a server's capacity counts whole units)").positive().describe("capacity units this plan uses on a server (a whole number)"),
    queueMode: z.boolean().default(false).describe("n8n queue mode: Redis queue + a worker container"),
    diskReservedGb: z.number().positive().optional().describe("free disk a new tenant of this plan needs on its server (default 2)"),
    n8n: service,
    worker: service.optional(),
    runner: service
      .optional()
      .describe("each task runner (where Code nodes run; one beside n8n, one beside the worker in queue mode); default: n8n's cpus, 512 MB, 128 pids"),
    postgres: service,
    redis: service,
  })
  .strict();
export type Plan = z.infer<typeof planSchema>;

/**
 * A plan's task runner (one beside n8n, one beside the worker): its own block when set, else
 * n8n's CPU figures with 512 MB (idle ~92 MiB on n8n 2.8.4; the rest is the customer's data
 * in flight through Code nodes) and 128 pids.
 */
export function planRunner(plan: Pick<Plan, "n8n" | "runner">): Plan["n8n"] {
  return plan.runner ?? { cpus: plan.n8n.cpus, ...(plan.n8n.cpuReserved !== undefined ? { cpuReserved: plan.n8n.cpuReserved } : {}), memoryMb: 512, pids: 128 };
}

const small = { postgres: { cpus: 0.5, memoryMb: 256, pids: 200 }, redis: { cpus: 0.25, memoryMb: 128, pids: 64 } };
const medium = { postgres: { cpus: 1, memoryMb: 512, pids: 300 }, redis: { cpus: 0.5, memoryMb: 256, pids: 64 } };
const large = { postgres: { cpus: 2, memoryMb: 1024, pids: 400 }, redis: { cpus: 1, memoryMb: 512, pids: 128 } };

/** The seed's plan table (§6.1) with resources and capacity weights. */
export const defaultPlans: Record<string, z.input<typeof planSchema>> = {
  starter: {
    priceEurMonth: 49, executionsPerMonth: 10_000, activeWorkflows: 5, articlesPerWeek: 2, support: "email",
    weight: 1, n8n: { cpus: 1, cpuReserved: 0.25, memoryMb: 768, pids: 256 }, ...small,
  },
  pro: {
    priceEurMonth: 149, executionsPerMonth: 50_000, activeWorkflows: 25, articlesPerWeek: 8, support: "priority",
    weight: 2, n8n: { cpus: 2, cpuReserved: 0.5, memoryMb: 1536, pids: 512 }, ...medium,
  },
  business: {
    priceEurMonth: 499, executionsPerMonth: 250_000, activeWorkflows: null, articlesPerWeek: 20, support: "chat",
    weight: 4, queueMode: true, n8n: { cpus: 2, cpuReserved: 0.5, memoryMb: 1536, pids: 512 }, worker: { cpus: 2, cpuReserved: 1.5, memoryMb: 2048, pids: 512 }, ...large,
  },
  enterprise: {
    priceEurMonth: null, executionsPerMonth: null, activeWorkflows: null, articlesPerWeek: null, support: "dedicated",
    weight: 8, queueMode: true, n8n: { cpus: 2, cpuReserved: 1, memoryMb: 2048, pids: 1024 }, worker: { cpus: 3, memoryMb: 4096, pids: 1024 }, ...large,
  },
};

/**
 * `plans` in btw.yml overlays the seed's table: an entry named like a default plan is merged
 * key by key over it, a new name stands alone, a null removes the default of that name.
 */
function overDefaultPlans(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = { ...defaultPlans };
  for (const [name, plan] of Object.entries(value)) {
    if (plan === null) delete out[name];
    else out[name] = isPlainObject(plan) && defaultPlans[name] ? mergeOver(defaultPlans[name] as Record<string, unknown>, plan) : plan;
  }
  return out;
}

function mergeOver(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(v) && isPlainObject(base[k]) ? mergeOver(base[k] as Record<string, unknown>, v) : v;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const serverType = z
  .object({ vcpus: z.number().int().positive(), memoryGb: z.number().positive(), diskGb: z.number().positive(), priceEurMonth: z.number().nonnegative(), capacity: z.number().positive() })
  .strict();

// Current Hetzner types (CPX Gen1 is gone in the EU; see HCLOUD.md). Prices are list prices
// without VAT and change: they are config, shown by `infra plan`, never used in decisions.
const defaultServerTypes = {
  cx33: { vcpus: 4, memoryGb: 8, diskGb: 80, priceEurMonth: 5.49, capacity: 12 },
  cpx32: { vcpus: 4, memoryGb: 8, diskGb: 160, priceEurMonth: 10.99, capacity: 12 },
  cpx42: { vcpus: 8, memoryGb: 16, diskGb: 320, priceEurMonth: 19.99, capacity: 24 },
  ccx33: { vcpus: 8, memoryGb: 32, diskGb: 240, priceEurMonth: 62.49, capacity: 48 },
};

const s3 = z
  .object({
    type: z.literal("s3"),
    endpoint: z.string().url().optional().describe("omit for AWS; e.g. https://fsn1.your-objectstorage.com"),
    region: z.string().default("eu-central"),
    bucket: z.string().min(3),
    prefix: z.string().default("btw/"),
    forcePathStyle: z.boolean().default(true),
    accessKeyId: z.string().optional().describe("prefer env BTW_S3_ACCESS_KEY_ID / AWS_ACCESS_KEY_ID"),
    secretAccessKey: z.string().optional().describe("secret; prefer env BTW_S3_SECRET_ACCESS_KEY / AWS_SECRET_ACCESS_KEY"),
  })
  .strict();
const dir = z.object({ type: z.literal("dir"), path: z.string().min(1).describe("~ and $BTW_HOME expand") }).strict();

// proxy.mode edge: `*.<domain>` → a Hetzner Load Balancer (managed certificate) → edge
// proxies → the tenant's server over the private network. Ignored in direct mode.
const edgeSchema = z
  .object({
    servers: z.number().int().min(1).max(7).default(2).describe("edge proxies behind the load balancer (private addresses .3–.9 of hetzner.subnetRange)"),
    serverType: z.string().default("cx33"),
    proxies: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a server name: a-z 0-9 -"),
            host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$/, "must be an address or a host name").describe("where btw reaches it over SSH"),
            privateIp: z
              .string()
              .refine((s) => isIP(s) !== 0, "must be an IPv4 or IPv6 address")
              .optional()
              .describe("the address the tenant servers see its requests come from (its private address): their proxies keep X-Forwarded-For from it only; without it they trust nobody and n8n sees this proxy as every visitor"),
          })
          .strict(),
      )
      .optional()
      .describe("the edge proxies btw syncs, when they are not the stack's (a lab, a hand-run edge); default: the edge servers in the Terraform state"),
    tls: z
      .enum(["load-balancer", "internal"])
      .default("load-balancer")
      .describe("where HTTPS ends: load-balancer (the managed certificate; edge proxies serve HTTP on the private network) or internal (each edge proxy terminates TLS with its own Caddy CA: a lab or a hand-run edge listed in edge.proxies, whose clients trust that CA)"),
    switch: z
      .enum(["prepare", "dns", "done"])
      .default("done")
      .describe(
        "moving a fleet from direct mode without downtime: prepare (the load balancer, certificate and edge proxies exist, no DNS record yet; the servers keep serving the internet with their own certificates and answer the edge too), dns (the records point at the load balancer; the servers still answer directly while resolvers forget the old address: wait the old records' TTL), done (the servers serve the private network only)",
      ),
    loadBalancerType: z.string().regex(/^lb\d+$/, "must be a Hetzner load balancer type like lb11").default("lb11"),
    location: z.enum(["fsn1", "nbg1", "hel1", "ash", "hil", "sin"]).optional().describe("the load balancer's location (default: hetzner.location)"),
    certificateDomains: z
      .array(z.string().regex(/^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "must be a DNS name, optionally *.-prefixed"))
      .default([])
      .describe("names of the managed certificate (default: <domain> and *.<domain>); Hetzner issues it only for zones in Hetzner DNS"),
    dns: z
      .object({
        zone: dnsName.optional().describe("the Hetzner DNS zone holding <domain> (default: <domain> itself)"),
        manageZone: z.boolean().default(false).describe("true: the stack creates the zone (hcloud_zone); false: the zone already exists in Hetzner DNS"),
        apex: z.boolean().default(true).describe("also point <domain> itself at the load balancer"),
        ttl: z.number().int().min(60).max(86400).default(300),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const configSchema = z
  .object({
    domain: dnsName.describe("base domain: tenant acme is served at acme.<domain>"),
    acmeEmail: z.string().email().optional().describe("contact for Let's Encrypt (production HTTPS)"),
    database: z
      .object({ url: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional().describe("secret; omit to use the embedded store (a PostgreSQL server btw starts under $BTW_HOME)") })
      .strict()
      .prefault({}),
    ssh: z
      .object({
        user: z.string().min(1).default("root"),
        port: z.number().int().min(1).max(65535).default(22),
        identityFile: z.string().optional(),
        connectTimeoutSec: z.number().int().min(1).max(120).default(10),
      })
      .strict()
      .prefault({}),
    images: z
      .object({
        n8n: imageRef.default("docker.n8n.io/n8nio/n8n:2.8.4"),
        postgres: imageRef.default("postgres:17.7-bookworm"),
        redis: imageRef.default("redis:7.4.7-bookworm"),
        caddy: imageRef.default("caddy:2.10.2"),
      })
      .strict()
      .prefault({}),
    proxy: z
      .object({
        tls: z.enum(["auto", "off"]).default("auto").describe("auto: Let's Encrypt per tenant host; off: plain HTTP (labs). Direct mode only: behind the edge, servers serve plain HTTP on the private network"),
        mode: z
          .enum(["direct", "edge"])
          .default("direct")
          .describe("direct: each server's proxy terminates TLS for its tenants (one-server installs); edge: a load balancer + edge proxies in front of the fleet (see `edge`)"),
      })
      .strict()
      .prefault({}),
    edge: edgeSchema.prefault({}).describe("the edge tier of proxy.mode edge: load balancer, managed certificate, DNS records, edge proxies"),
    defaults: z
      .object({ timezone: z.string().default("Europe/Paris"), plan: z.string().default("starter") })
      .strict()
      .prefault({}),
    plans: z
      .preprocess(overDefaultPlans, z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), planSchema))
      .prefault(defaultPlans)
      .describe("the plan table: a plan named like a default one changes only the keys given (`starter: {n8n: {cpus: 1}}`); a new name needs every key; `name: null` removes a default plan"),
    placement: z
      .object({
        subnetPool: cidr.default("10.220.0.0/16").describe("per-tenant subnets are carved from this pool"),
        subnetPrefix: z.number().int().min(16).max(28).default(26).describe("each tenant block is split in two (internal, edge): /28 is the smallest"),
        defaultCapacity: z.number().positive().default(12).describe("capacity units of a server added without --capacity"),
        resources: z
          .object({
            platformReserve: z
              .object({ cpus: z.number().min(0).default(0.5), memoryMb: z.number().int().min(0).default(1024) })
              .strict()
              .prefault({})
              .describe("what the platform takes on every server (Docker, the proxy, exporters) before tenants"),
            overcommit: z
              .object({ memory: z.number().min(1).default(1.5) })
              .strict()
              .prefault({})
              .describe("tenants' memory limits may reach allocatable × this; reservations never exceed allocatable (CPU limits are caps, not counted)"),
            minFreeDiskGb: z.number().min(0).default(10).describe("disk a server keeps free: no tenant is placed below it"),
          })
          .strict()
          .prefault({})
          .describe("placement by resources (issue 26), on servers whose facts `server check` recorded"),
        preparedDatabase: z
          .boolean()
          .default(true)
          .describe("tenant create clones a database n8n has already migrated, prepared once per server and per (n8n, Postgres) image, instead of migrating an empty one"),
      })
      .strict()
      .prefault({}),
    backup: z
      .object({
        storage: z.discriminatedUnion("type", [dir, s3]).default({ type: "dir", path: "$BTW_HOME/backups" }),
        retention: z
          .object({
            daily: z.number().int().min(0).default(7),
            weekly: z.number().int().min(0).default(4),
            monthly: z.number().int().min(0).default(6),
            purgedDays: z.number().int().min(0).default(30).describe("days a purged tenant's backups are kept after the purge (its final backup included); then prune deletes them"),
          })
          .strict()
          .prefault({}),
        concurrency: z
          .object({ total: z.number().int().min(1).default(4), perServer: z.number().int().min(1).default(2) })
          .strict()
          .prefault({}),
        tenantTimeoutSec: z
          .number()
          .int()
          .min(5)
          .default(3600)
          .describe("deadline of one tenant's backup in `backup all`: a frozen server cannot hold the run (or its locks) past it"),
      })
      .strict()
      .prefault({}),
    hetzner: z
      .object({
        token: z.string().optional().describe("secret; prefer env HCLOUD_TOKEN"),
        location: z.enum(["fsn1", "nbg1", "hel1", "ash", "hil", "sin"]).default("fsn1"),
        networkZone: z.enum(["eu-central", "us-east", "us-west", "ap-southeast"]).default("eu-central"),
        serverType: z.string().default("cpx32"),
        image: z.string().default("debian-13").describe("Debian 13 ships Docker Engine 26 + Compose v2; debian-12 gets Docker's apt repository"),
        servers: z.number().int().min(0).max(100).default(1),
        namePrefix: z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/, "must be a lowercase DNS label of 2–22 characters")
          .default("btw")
          .describe("servers are <prefix>-1, <prefix>-2, …; the network, firewall and placement groups carry it too"),
        labels: z.record(hetznerLabelKey, hetznerLabelValue).default({}).describe("extra labels on every Hetzner resource btw makes"),
        monitoring: z.boolean().default(false),
        monitoringServerType: z.string().default("cx33"),
        protection: z.boolean().default(true).describe("delete and rebuild protection on servers (Terraform lifts it itself on destroy)"),
        networkRange: cidr.default("10.0.0.0/16"),
        subnetRange: cidr.default("10.0.1.0/24"),
        adminCidrs: z.array(anyCidr).default([]).describe("where SSH may come from (the firewall closes port 22 to everyone else)"),
        metricsPorts: z
          .array(z.string().regex(/^\d{1,5}(-\d{1,5})?$/, "must be a port or a range like 9100-9110"))
          .default(["9100", "9323"])
          .describe("node exporter, Docker engine metrics: reachable from the private network only"),
        sshKeys: z.array(z.object({ name: z.string(), publicKey: z.string() }).strict()).default([]),
        serverTypes: z.record(z.string(), serverType).default(defaultServerTypes),
        prices: z
          .object({
            loadBalancers: z.record(z.string(), z.number().nonnegative()).default({ lb11: 5.39, lb21: 16.4, lb31: 32.9 }).describe("monthly list price per load balancer type"),
            primaryIpv4EurMonth: z.number().nonnegative().default(0.5).describe("a server's public IPv4, billed apart from the server"),
            backupStorageEurPerGbMonth: z.number().nonnegative().default(0.0049).describe("the backup storage's price per GB and month (Hetzner Object Storage: 4.99 € per TB)"),
          })
          .strict()
          .prefault({})
          .describe("list prices without VAT for what is not a server; config, shown by `btw cost`, never used in decisions"),
        cloudInitTimeoutSec: z.number().int().min(30).max(3600).default(900).describe("how long `infra apply` waits for a new server's first boot"),
      })
      .strict()
      .prefault({}),
    terraform: z
      .object({
        binary: z.enum(["terraform", "tofu"]).default("terraform"),
        path: z.string().optional().describe("the binary's path when it is not on PATH"),
        providerVersion: z.string().default("~> 1.68").describe("version constraint of hetznercloud/hcloud"),
        providerMirror: z
          .string()
          .optional()
          .describe("directory with the hcloud provider (`terraform providers mirror <dir>`), for hosts without access to the registry"),
        stack: z.string().regex(/^[a-z][a-z0-9-]*$/).default("platform").describe("the CDK stack's name (cdktf.out/stacks/<stack>)"),
        dir: z.string().default("$BTW_HOME/infra").describe("synth output, local state, Terraform's data directory"),
        pgSchema: z.string().regex(/^[a-z_][a-z0-9_]*$/).default("btw_terraform").describe("schema of Terraform's pg backend when database.url is set"),
      })
      .strict()
      .prefault({}),
    monitoring: monitoringSchema.prefault({}).describe("alert thresholds and durations, Prometheus retention (see `btw monitoring`)"),
    schedule: scheduleSchema.prefault({}).describe("the operator host's crontab (`btw schedule install`): when each job runs, jitter"),
    notifications: notificationsSchema.prefault({}).describe("email (SMTP), Slack, webhook: used by Alertmanager and by btw's scheduled jobs; secrets by env name only"),
    secrets: z
      .object({
        rotationDays: z.number().int().min(1).default(90).describe("`btw tenant secrets rotate --due` rotates tenants whose Postgres/Redis password or n8n API key is this many days old"),
      })
      .strict()
      .prefault({}),
    bootstrap: z
      .object({
        insecureRegistries: z
          .array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be host or host:port"))
          .default([])
          .describe("plain-HTTP registries the engine may pull from (labs)"),
        logMaxSize: z.string().regex(/^\d+[kmg]$/).default("10m").describe("container log rotation: size per file"),
        logMaxFiles: z.number().int().min(1).max(100).default(3).describe("container log rotation: files kept"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type RawConfig = z.input<typeof configSchema>;
export type Config = z.infer<typeof configSchema>;

/** Dotted paths whose values are secrets: redacted by `config show`, never logged. */
export const secretPaths = ["database.url", "hetzner.token", "backup.storage.secretAccessKey"] as const;
