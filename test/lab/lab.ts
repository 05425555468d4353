import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { Document, type Scalar } from "yaml";
import type { LabConfig, MonitoringImage, PushedImage, ServiceImage } from "./config.js";
import { MONITORING_IMAGES, N8N_PREVIOUS, POSTGRES_PREVIOUS, PUSHED_IMAGES, SERVICE_IMAGES, isPushedImage, labPaths } from "./config.js";
import { ensureHostDocker } from "./host-docker.js";
import { ensureHostPackages } from "./host-packages.js";
import { DEMO_IMAGES, buildImages, imageTag, installN8nBundles, pruneLabImages, type ImageName } from "./images.js";
import { limitsProblems, probeLimits } from "./limits-probe.js";
import { withLabLock } from "./lock.js";
import { say, timed } from "./log.js";
import { connectPrivate, ensureNetwork, ensurePrivateNetwork, removeNetworks } from "./network.js";
import { collectRegistryGarbage, ensureRegistry, pushImages, registryRef, registryRunning, stopRegistry } from "./registry.js";
import { tryRun } from "./run.js";
import { ensureHostKey, ensureLabKey, writeKnownHosts, type LabServer } from "./ssh.js";
import { bareSpec, edgeVmSpec, ensureVm, labContainers, privateIpOf, pullImages, removeVms, removeVolumes, serverOf, vmSpec, waitVm, type VmSpec } from "./vms.js";

export type { LabServer } from "./ssh.js";

/** What `up --json` prints and the e2e set-up provides to tests. */
export interface LabInfo {
  servers: LabServer[];
  registry: string;
  images: Record<ServiceImage, string>;
  /**
   * An older n8n whose database `images.n8n` migrates forward (upgrade tests, issue 11), e.g.
   * `{version: "2.6.4", image: "172.29.0.1:5000/btw/n8n:2.6.4"}`. Kept out of `images` and
   * of the fragment: btw's config schema rejects unknown keys. Like `postgresPrevious` and
   * `monitoringImages`, only a name: `up` does not build it, `labImages` does (on first use).
   */
  n8nPrevious: { version: string; image: string };
  /**
   * An older PostgreSQL major, from Debian bookworm (Postgres upgrade tests, issue 11), e.g.
   * `{major: "15", image: "172.29.0.1:5000/btw/postgres:15"}`; like n8nPrevious, not in `images`.
   */
  postgresPrevious: { major: string; image: string };
  /** The monitoring stack's images from Debian's packages, keyed as btw.yml's `monitoring.images` (issue 15). */
  monitoringImages: Record<MonitoringImage, string>;
  /**
   * A btw.yml fragment: `images` (registry refs), `proxy.tls: "off"`, and `monitoring`: its
   * images, with Grafana and cAdvisor off (Debian packages neither).
   */
  config: string;
}

export interface UpOptions {
  servers: number;
  /** Run the resource-limits probe even on VMs that were already up. */
  probeLimits?: boolean;
  /** Stream image build output to stderr. */
  verbose?: boolean;
  /**
   * Pull the four service images into every VM now. A first n8n pull unpacks ~110k files: 70–100 s
   * for two fresh VMs in parallel; the e2e set-up pays it here rather than in a timed test.
   */
  prepull?: boolean;
}

const imageRefs = (cfg: LabConfig) =>
  Object.fromEntries(SERVICE_IMAGES.map((n) => [n, registryRef(cfg, n)])) as Record<ServiceImage, string>;
const monitoringRefs = (cfg: LabConfig) =>
  Object.fromEntries(MONITORING_IMAGES.map((n) => [n, registryRef(cfg, n)])) as Record<MonitoringImage, string>;

/** n8n's CPU cap in the lab's plans (btw.lab.yml), above the production defaults. */
export const LAB_N8N_CPUS = 2;
const LAB_N8N_CPUS_PLANS = ["starter", "pro"];

function writeFragment(cfg: LabConfig): string {
  // bootstrap.insecureRegistries: a server bootstrapped by btw (lab-bare) pulls from the lab registry.
  const doc = new Document({
    images: imageRefs(cfg),
    proxy: { tls: "off" },
    bootstrap: { insecureRegistries: [cfg.registry] },
    monitoring: { images: monitoringRefs(cfg), grafana: false, cadvisor: false },
    // The lab's VMs share this machine's cores: n8n's first start (its migrations, loading its
    // nodes) at the plans' 0.5–1 CPU took ~45 s; the cap is config, the code path the same.
    plans: Object.fromEntries(LAB_N8N_CPUS_PLANS.map((p) => [p, { n8n: { cpus: LAB_N8N_CPUS } }])),
  });
  // Quoted: a YAML 1.1 reader would take a bare `off` for false.
  (doc.getIn(["proxy", "tls"], true) as Scalar).type = "QUOTE_DOUBLE";
  const path = labPaths(cfg).fragment;
  writeFileSync(path, `# Written by \`npm run lab -- up\`: merge into btw.yml to use the lab.\n${doc.toString()}`);
  return path;
}

/**
 * Everything but the VMs: host packages, engine, `images` built (if missing or changed),
 * bridge, registry with those of them that VMs pull. Only `images`: a run pays for what it uses.
 */
async function ensureShared(cfg: LabConfig, images: readonly ImageName[], verbose = false): Promise<void> {
  mkdirSync(cfg.home, { recursive: true });
  await ensureHostPackages();
  await ensureHostDocker(cfg);
  await buildImages(cfg, { rebuild: false, refreshCaches: false, verbose }, images);
  await ensureNetwork(cfg);
  await ensureRegistry(cfg);
  const pushed = images.filter(isPushedImage);
  if (pushed.length) await timed(`${pushed.join(", ")} pushed to the lab registry`, () => pushImages(cfg, pushed));
}

/** known_hosts for every lab VM that exists now (a VM keeps its key across `down`/`up`). */
async function refreshKnownHosts(cfg: LabConfig): Promise<void> {
  const entries = [];
  for (const c of await labContainers(cfg)) {
    if (c.ip) entries.push({ host: c.ip, publicKey: (await ensureHostKey(cfg, c.name)).publicKey });
  }
  writeKnownHosts(cfg, entries);
}

async function startVms(cfg: LabConfig, specs: VmSpec[], fresh = false): Promise<{ servers: LabServer[]; created: Set<string> }> {
  const key = await ensureLabKey(cfg);
  const created = new Set<string>();
  await Promise.all(
    specs.map(async (spec) => {
      if ((await ensureVm(cfg, spec, key.publicKey, fresh)).created) created.add(spec.name);
    }),
  );
  await refreshKnownHosts(cfg);
  const servers = specs.map((s) => serverOf(s, key.path));
  await timed(`${specs.map((s) => s.name).join(", ")} answer over SSH`, () =>
    Promise.all(servers.map((srv, i) => waitVm(srv, specs[i]!.kind))),
  );
  return { servers, created };
}

export function labUp(cfg: LabConfig, opts: UpOptions): Promise<LabInfo> {
  return withLabLock(cfg, "up", () => up(cfg, opts));
}

async function up(cfg: LabConfig, opts: UpOptions): Promise<LabInfo> {
  await ensureShared(cfg, DEMO_IMAGES, opts.verbose);
  const specs = Array.from({ length: opts.servers }, (_, i) => vmSpec(cfg, i + 1));
  const { servers, created } = await startVms(cfg, specs);
  await pruneLabImages();
  const first = servers[0]!;
  if (opts.probeLimits || created.has(first.name)) {
    const report = await timed(`resource limits probed on ${first.name}`, () => probeLimits(cfg, first));
    const problems = limitsProblems(report);
    say(
      problems.length
        ? `WARNING limits on ${first.name} (${report.cgroup}): ${problems.join("; ")}`
        : `limits OK on ${first.name} (${report.cgroup}): memory=${report.cgroupFiles.memory} cpu=${report.cgroupFiles.cpu} pids=${report.cgroupFiles.pids}, OOM and pids enforced`,
    );
  }
  if (opts.prepull) {
    // the service images only: the older n8n and Postgres go where a test asks (labImages)
    const refs = Object.values(imageRefs(cfg));
    await timed(`service images present in ${servers.map((s) => s.name).join(", ")}`, () =>
      Promise.all(servers.map((srv) => pullImages(srv, refs))),
    );
  }
  const info: LabInfo = {
    servers,
    registry: cfg.registry,
    images: imageRefs(cfg),
    n8nPrevious: { version: N8N_PREVIOUS, image: registryRef(cfg, "n8nPrevious") },
    postgresPrevious: { major: POSTGRES_PREVIOUS, image: registryRef(cfg, "postgresPrevious") },
    monitoringImages: monitoringRefs(cfg),
    config: writeFragment(cfg),
  };
  writeFileSync(labPaths(cfg).labJson, `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

/**
 * A fresh lab-bare every time (new container, new disk, same address and host key): bootstrap
 * tests install Docker on it, and the next test must again find a server without Docker.
 */
export function labBare(cfg: LabConfig): Promise<LabServer> {
  return withLabLock(cfg, "bare", async () => {
    // the demo's images too: once bootstrapped, lab-bare runs tenants from the registry
    await ensureShared(cfg, [...DEMO_IMAGES, "bare"]);
    const { servers } = await startVms(cfg, [bareSpec(cfg)], true);
    return servers[0]!;
  });
}

/** What `labEdge` returns: the edge VM and everyone's address on the private network. */
export interface LabEdge {
  /** the edge VM, reached (SSH, HTTPS) on the lab bridge that plays the internet */
  edge: LabServer;
  /** name → address on the private network, for the edge VM and every lab-N VM */
  privateAddresses: Record<string, string>;
  /** the private network: its bridge's subnet, the host's address on it, the range btw.yml names */
  privateNetwork: { name: string; subnet: string; gateway: string; range: string };
}

/**
 * The edge lab (issue 14): a second bridge that plays the private network, lab-1…lab-N and a
 * `lab-edge` VM on it at fixed addresses, Caddy's image already in lab-edge. Idempotent; the
 * VMs keep their first (internet) network as default route. `down` removes all of it.
 */
export function labEdge(cfg: LabConfig): Promise<LabEdge> {
  return withLabLock(cfg, "edge", async () => {
    await ensureShared(cfg, DEMO_IMAGES);
    await ensurePrivateNetwork(cfg);
    const spec = edgeVmSpec(cfg);
    const { servers } = await startVms(cfg, [spec]);
    const vms = (await labContainers(cfg)).filter((c) => c.kind === "vm" && c.running && (/^lab-\d+$/.test(c.name) || c.name === spec.name));
    const privateAddresses: Record<string, string> = {};
    for (const vm of vms) {
      privateAddresses[vm.name] = privateIpOf(cfg, vm.name);
      await connectPrivate(cfg, vm.name, privateAddresses[vm.name]!);
    }
    const edge = servers[0]!;
    await timed(`caddy present in ${edge.name}`, () => pullImages(edge, [registryRef(cfg, "caddy")]));
    return { edge, privateAddresses, privateNetwork: cfg.privateNetwork };
  });
}

export interface LabImagesOptions {
  /** Pull the images into these servers too (as `up --prepull` does for the service images). */
  pullInto?: readonly LabServer[];
  verbose?: boolean;
}

/**
 * Images `up` leaves out — the older n8n and Postgres (upgrade tests), the monitoring images —
 * for the e2e files that use them (test/e2e/support/lab.ts `ensureLabImages`): built if missing
 * or changed, pushed to the lab registry, pulled into `pullInto`; returns their registry refs.
 * Only the image builds and the push hold the lab lock: an n8n npm install comes first (it
 * has a lock of its own), the pull after (a first n8n pull takes a minute or two and touches
 * only the caller's servers), so other lanes' lab calls wait minutes less.
 */
export async function labImages<N extends PushedImage>(cfg: LabConfig, names: readonly N[], opts: LabImagesOptions = {}): Promise<Record<N, string>> {
  await installN8nBundles(cfg, names);
  await withLabLock(cfg, `images ${names.join(", ")}`, () => ensureShared(cfg, names, opts.verbose));
  const refs = Object.fromEntries(names.map((n) => [n, registryRef(cfg, n)])) as Record<N, string>;
  const servers = opts.pullInto ?? [];
  if (servers.length) {
    await timed(`${names.join(", ")} present in ${servers.map((s) => s.name).join(", ")}`, () =>
      Promise.all(servers.map((srv) => pullImages(srv, Object.values(refs)))),
    );
  }
  return refs;
}

export interface LabStatus {
  home: string;
  engine: boolean;
  network: string;
  subnet: string;
  registry: { address: string; running: boolean };
  images: Record<string, { ref: string; built: boolean }>;
  servers: Array<{ name: string; kind: string; host: string; running: boolean }>;
}

export async function labStatus(cfg: LabConfig): Promise<LabStatus> {
  const engine = (await tryRun("docker", ["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 })).ok;
  const images: LabStatus["images"] = {};
  for (const name of PUSHED_IMAGES) {
    const built = engine && (await tryRun("docker", ["image", "inspect", imageTag(name)])).ok;
    images[name] = { ref: registryRef(cfg, name), built };
  }
  const servers = engine ? (await labContainers(cfg)).map((c) => ({ name: c.name, kind: c.kind, host: c.ip, running: c.running })) : [];
  return {
    home: cfg.home,
    engine,
    network: cfg.network,
    subnet: cfg.subnet,
    registry: { address: cfg.registry, running: await registryRunning(cfg) },
    images,
    servers,
  };
}

/** Removes VMs, the lab networks and volumes, stops the registry; keeps images and caches. */
export function labDown(cfg: LabConfig): Promise<void> {
  return withLabLock(cfg, "down", () => down(cfg));
}

async function down(cfg: LabConfig): Promise<void> {
  const engine = (await tryRun("docker", ["version"], { timeoutMs: 10_000 })).ok;
  if (engine) await timed("VMs removed", () => removeVms(cfg));
  await timed("registry stopped", async () => {
    await stopRegistry(cfg);
    await collectRegistryGarbage(cfg);
  });
  if (engine) {
    await timed("networks removed", () => removeNetworks(cfg));
    await timed("volumes removed", () => removeVolumes(cfg));
  }
  rmSync(labPaths(cfg).labJson, { force: true });
}
