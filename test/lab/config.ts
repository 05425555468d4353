import { join } from "node:path";

// Every fixed fact about the lab lives here, so the CLI, the vitest set-up and the report
// agree on names, addresses and versions.

/** Upstream versions the Debian trixie packages ship; build checks them (see images.ts). */
export const VERSIONS = {
  n8n: "2.8.4",
  postgres: "17",
  redis: "8.0.2",
  caddy: "2.6.2",
} as const;

export type ServiceImage = keyof typeof VERSIONS;
export const SERVICE_IMAGES: readonly ServiceImage[] = ["n8n", "postgres", "redis", "caddy"];

/**
 * An older n8n for upgrade tests (issue 11): its database schema is a strict prefix of
 * VERSIONS.n8n's, so starting VERSIONS.n8n on its database runs migrations (4 for 2.6.4 →
 * 2.8.4; names in README.md). Not in the btw.yml fragment (btw's schema knows no such
 * key): `up` describes it as LabInfo.n8nPrevious.
 */
export const N8N_PREVIOUS = "2.6.4";

/**
 * An older PostgreSQL major (Postgres upgrade tests, issue 11): Debian bookworm's
 * `postgresql-15`, built on a bookworm base with the same entrypoint as btw/postgres:17.
 * `up` describes it as LabInfo.postgresPrevious.
 */
export const POSTGRES_PREVIOUS = "15";
export const POSTGRES_PREVIOUS_SUITE = "bookworm";

/**
 * The monitoring stack's images (issue 15), keyed as btw.yml's `monitoring.images`, with the
 * upstream versions Debian trixie ships. Grafana and cAdvisor are not packaged: the lab's
 * fragment turns them off.
 */
export const MONITORING_VERSIONS = {
  prometheus: "2.53.3",
  alertmanager: "0.28.1",
  blackbox: "0.26.0",
  nodeExporter: "1.9.0",
} as const;

export type MonitoringImage = keyof typeof MONITORING_VERSIONS;
export const MONITORING_IMAGES: readonly MonitoringImage[] = ["prometheus", "alertmanager", "blackbox", "nodeExporter"];

/** Repository names of the monitoring images (btw/<repo>:<version>). */
const MONITORING_REPOS: Record<MonitoringImage, string> = {
  prometheus: "prometheus",
  alertmanager: "alertmanager",
  blackbox: "blackbox-exporter",
  nodeExporter: "node-exporter",
};

export const isMonitoringImage = (name: string): name is MonitoringImage => name in MONITORING_VERSIONS;

/** What the lab pushes to its registry: the service images, the older n8n, the monitoring images. */
export type PushedImage = ServiceImage | "n8nPrevious" | "postgresPrevious" | MonitoringImage;
export const PUSHED_IMAGES: readonly PushedImage[] = [...SERVICE_IMAGES, "n8nPrevious", "postgresPrevious", ...MONITORING_IMAGES];
export const isPushedImage = (name: string): name is PushedImage => (PUSHED_IMAGES as readonly string[]).includes(name);

/** The n8n version a pushed image carries, for the n8n images. */
export const n8nVersionOf = (name: PushedImage): string | undefined =>
  name === "n8n" ? VERSIONS.n8n : name === "n8nPrevious" ? N8N_PREVIOUS : undefined;

export interface LabConfig {
  /** Caches, keys, registry data, logs; outside the repo so a fresh clone reuses them. */
  home: string;
  network: string;
  subnet: string;
  /** The bridge gateway: the host's address on the lab network, where the registry listens. */
  gateway: string;
  registryPort: number;
  /** Where the host engine pushes: Docker trusts 127.0.0.0/8 registries over plain HTTP. */
  registryHostSide: string;
  /** Where the VMs pull from (listed in their daemon.json insecure-registries). */
  registry: string;
  /** Label put on every container, network and volume the lab creates, for status/down. */
  label: string;
  debianMirror: string;
  suite: string;
  /**
   * The bridge that plays Hetzner's private network behind the edge (issue 14). The lab
   * bridge above plays the internet: the edge VM answers there; the tenant servers' proxies,
   * behind the edge, only here. In 10/8 (Docker's default pools are 172.17–31/16 and
   * 192.168/16) and outside placement.subnetPool (10.220/16).
   */
  privateNetwork: { name: string; subnet: string; gateway: string; range: string };
}

export function labConfig(env: NodeJS.ProcessEnv = process.env): LabConfig {
  const gateway = "172.29.0.1";
  const registryPort = 5000;
  return {
    home: env.BTW_LAB_HOME || "/var/lib/btw-lab",
    network: "btw-lab",
    // A fixed /24 high in 172.16/12: Docker's default pools hand out 172.17, 172.18, …
    // in order, so auto-allocated networks on the host or in a VM reach it last. Tenant
    // subnets chosen by btw must not overlap it, or a VM loses its route to the registry.
    subnet: "172.29.0.0/24",
    gateway,
    registryPort,
    registryHostSide: `127.0.0.1:${registryPort}`,
    registry: `${gateway}:${registryPort}`,
    label: "btw-lab",
    debianMirror: "http://deb.debian.org/debian",
    suite: "trixie",
    // range: what the lab's btw.yml gives as hetzner.networkRange (the subnet is one /24 of it)
    privateNetwork: { name: "btw-lab-private", subnet: "10.29.1.0/24", gateway: "10.29.1.1", range: "10.29.0.0/16" },
  };
}

export const labPaths = (cfg: LabConfig) => ({
  sshDir: join(cfg.home, "ssh"),
  sshKey: join(cfg.home, "ssh", "id_ed25519"),
  hostKeysDir: join(cfg.home, "ssh", "host-keys"),
  knownHosts: join(cfg.home, "ssh", "known_hosts"),
  cacheDir: join(cfg.home, "cache"),
  rootfsTar: join(cfg.home, "cache", `debian-${cfg.suite}-minbase.tar`),
  rootfsTarOf: (suite: string) => join(cfg.home, "cache", `debian-${suite}-minbase.tar`),
  /** The cached npm install of VERSIONS.n8n (test/support/n8n.ts runs it on the host). */
  n8nDir: join(cfg.home, "cache", `n8n-${VERSIONS.n8n}`),
  /** The cached npm install of any n8n version. */
  n8nDirOf: (version: string) => join(cfg.home, "cache", `n8n-${version}`),
  /** Held while npm installs any n8n version (test/lab/n8n-bundle.ts): one install at a time. */
  npmInstallLock: join(cfg.home, "cache", "n8n-npm-install.lock"),
  registryDir: join(cfg.home, "registry"),
  dockerdLog: join(cfg.home, "dockerd.log"),
  fragment: join(cfg.home, "btw.lab.yml"),
  labJson: join(cfg.home, "lab.json"),
});

/** Local tag of a pushed image, e.g. btw/n8n:2.8.4 (n8nPrevious: btw/n8n:2.6.4). */
export const serviceTag = (name: PushedImage): string =>
  name === "n8nPrevious" ? `btw/n8n:${N8N_PREVIOUS}`
  : name === "postgresPrevious" ? `btw/postgres:${POSTGRES_PREVIOUS}`
  : isMonitoringImage(name) ? `btw/${MONITORING_REPOS[name]}:${MONITORING_VERSIONS[name]}`
  : `btw/${name}:${VERSIONS[name]}`;

/** Helper images that never leave the host engine. */
export const BASE_TAG = "btw-lab/debian:trixie";
/** The bookworm base of btw/postgres:15 only. */
export const BASE_PREVIOUS_TAG = `btw-lab/debian:${POSTGRES_PREVIOUS_SUITE}`;
export const VM_TAG = "btw-lab/vm:trixie";
export const BARE_TAG = "btw-lab/bare:trixie";
