import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOTFS_TWEAKS, ensureRootfsTar, importBase } from "./base-image.js";
import type { LabConfig, PushedImage } from "./config.js";
import { BARE_TAG, BASE_PREVIOUS_TAG, BASE_TAG, MONITORING_IMAGES, MONITORING_VERSIONS, N8N_PREVIOUS, POSTGRES_PREVIOUS, POSTGRES_PREVIOUS_SUITE, VERSIONS, VM_TAG, n8nVersionOf, serviceTag, type MonitoringImage } from "./config.js";
import { LabError } from "./errors.js";
import { say, timed } from "./log.js";
import { bundleRecipe, ensureN8nBundle } from "./n8n-bundle.js";
import { lastLine, run, tryRun } from "./run.js";

const IMAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), "images");
const RECIPE_LABEL = "btw-lab.recipe";
const N8N_RUNTIME_TAG = "btw-lab/n8n-runtime:trixie";

export type ImageName = "base" | "basePrevious" | "vm" | "bare" | PushedImage;
export const ALL_IMAGES: readonly ImageName[] = ["base", "basePrevious", "vm", "bare", "postgres", "postgresPrevious", "redis", "caddy", "n8n", "n8nPrevious", ...MONITORING_IMAGES];

/**
 * What `up` (so `npm run demo` and the e2e set-up) builds: the VMs and the four service images.
 * The rest (the older n8n and Postgres, the bare VM, the monitoring images: about half of a
 * cold build — a second n8n npm install, a bookworm debootstrap) are built on first use by
 * the e2e files that need them (lab.ts: labImages, labBare).
 */
export const DEMO_IMAGES: readonly ImageName[] = ["base", "vm", "postgres", "redis", "caddy", "n8n"];

/** Rootfs-imported bases (no Dockerfile): the suite each is debootstrapped from. */
const isBase = (name: ImageName): name is "base" | "basePrevious" => name === "base" || name === "basePrevious";

interface Spec {
  tag: string;
  /** Folder under images/ holding the Dockerfile and files it copies. */
  dir: string;
  dockerfile: string;
  /** A stage of a multi-stage Dockerfile (`--target`): images sharing one recipe folder. */
  target?: string;
  /** The base it starts FROM, when not trixie's (its id is part of the recipe). */
  parent?: string;
  /** Argv run in the image whose output must contain `expect` (the upstream version). */
  versionCheck?: { argv: string[]; expect: string };
}

/** The monitoring images: stages of one Dockerfile (images/monitoring), one apt run for all. */
const MONITORING_SPECS = {
  prometheus: { target: "prometheus", argv: ["prometheus", "--version"] },
  alertmanager: { target: "alertmanager", argv: ["prometheus-alertmanager", "--version"] },
  blackbox: { target: "blackbox", argv: ["prometheus-blackbox-exporter", "--version"] },
  nodeExporter: { target: "node-exporter", argv: ["prometheus-node-exporter", "--version"] },
} satisfies Record<MonitoringImage, { target: string; argv: string[] }>;

const monitoringSpec = (name: MonitoringImage): Spec => ({
  tag: serviceTag(name), dir: "monitoring", dockerfile: "Dockerfile", target: MONITORING_SPECS[name].target,
  versionCheck: { argv: MONITORING_SPECS[name].argv, expect: `version ${MONITORING_VERSIONS[name]}` },
});

const SPECS: Record<Exclude<ImageName, "base" | "basePrevious">, Spec> = {
  vm: { tag: VM_TAG, dir: "vm", dockerfile: "Dockerfile", versionCheck: { argv: ["docker", "compose", "version"], expect: "Docker Compose version 2." } },
  bare: { tag: BARE_TAG, dir: "vm", dockerfile: "Dockerfile.bare" },
  postgres: {
    tag: serviceTag("postgres"), dir: "postgres", dockerfile: "Dockerfile",
    versionCheck: { argv: ["postgres", "--version"], expect: `(PostgreSQL) ${VERSIONS.postgres}.` },
  },
  // The older major (Postgres upgrade tests): bookworm's postgresql-15, the same entrypoint.
  postgresPrevious: {
    tag: serviceTag("postgresPrevious"), dir: "postgres", dockerfile: `Dockerfile.${POSTGRES_PREVIOUS}`, parent: BASE_PREVIOUS_TAG,
    versionCheck: { argv: ["postgres", "--version"], expect: `(PostgreSQL) ${POSTGRES_PREVIOUS}.` },
  },
  redis: {
    tag: serviceTag("redis"), dir: "redis", dockerfile: "Dockerfile",
    versionCheck: { argv: ["redis-server", "--version"], expect: `v=${VERSIONS.redis} ` },
  },
  caddy: {
    tag: serviceTag("caddy"), dir: "caddy", dockerfile: "Dockerfile",
    versionCheck: { argv: ["caddy", "version"], expect: VERSIONS.caddy },
  },
  n8n: {
    tag: serviceTag("n8n"), dir: "n8n", dockerfile: "Dockerfile",
    versionCheck: { argv: ["n8n", "--version"], expect: VERSIONS.n8n },
  },
  // The same runtime with an older n8n copied in (upgrade tests; see config.ts).
  n8nPrevious: {
    tag: serviceTag("n8nPrevious"), dir: "n8n", dockerfile: "Dockerfile",
    versionCheck: { argv: ["n8n", "--version"], expect: N8N_PREVIOUS },
  },
  ...(Object.fromEntries(MONITORING_IMAGES.map((n) => [n, monitoringSpec(n)])) as Record<MonitoringImage, Spec>),
};

/** The n8n version an image carries (n8n, n8nPrevious), else undefined. */
const n8nVersion = (name: ImageName): string | undefined =>
  isBase(name) || name === "vm" || name === "bare" ? undefined : n8nVersionOf(name);

export const imageTag = (name: ImageName): string => (name === "base" ? BASE_TAG : name === "basePrevious" ? BASE_PREVIOUS_TAG : SPECS[name].tag);

/**
 * Hash of the files in an image folder that a build can use: a changed Dockerfile or script
 * means a rebuild. Sibling Dockerfiles (vm/Dockerfile.bare beside vm/Dockerfile) are left
 * out, so changing one image's recipe does not rebuild (and so replace) the other's VMs.
 */
function hashDir(dir: string, dockerfile: string, h: ReturnType<typeof createHash>): void {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (entry.startsWith("Dockerfile") && entry !== dockerfile) continue;
    if (statSync(path).isDirectory()) {
      hashDir(path, dockerfile, h);
    } else {
      h.update(`${entry}\0${statSync(path).mode & 0o111}\0`);
      h.update(readFileSync(path));
    }
  }
}

async function imageId(tag: string): Promise<string | undefined> {
  const r = await tryRun("docker", ["image", "inspect", "--format", "{{.Id}}", tag]);
  return r.ok ? r.stdout : undefined;
}

async function imageRecipe(tag: string): Promise<string | undefined> {
  const r = await tryRun("docker", ["image", "inspect", "--format", `{{index .Config.Labels "${RECIPE_LABEL}"}}`, tag]);
  return r.ok ? r.stdout : undefined;
}

/** A recipe is the image folder plus its parent's id: rebuilding the base rebuilds the rest. */
async function recipeOf(name: ImageName, cfg: LabConfig): Promise<string> {
  const h = createHash("sha256");
  if (isBase(name)) {
    h.update(`${name === "base" ? cfg.suite : POSTGRES_PREVIOUS_SUITE}\0${cfg.debianMirror}\0${JSON.stringify(ROOTFS_TWEAKS)}`);
  } else {
    const spec = SPECS[name];
    const version = n8nVersion(name);
    h.update(`${spec.dockerfile}\0${(await imageId(spec.parent ?? BASE_TAG)) ?? "no-base"}\0${version ? bundleRecipe(version) : ""}\0`);
    // (only when set: the other images' recipes, hence their builds, stay as they were)
    if (spec.target) h.update(`target\0${spec.target}\0`);
    hashDir(join(IMAGES_DIR, spec.dir), spec.dockerfile, h);
  }
  return h.digest("hex").slice(0, 16);
}

export interface BuildOptions {
  rebuild: boolean;
  /** Also redo the slow caches (debootstrap rootfs, n8n npm install). */
  refreshCaches: boolean;
  /** Stream `docker build` output to stderr (otherwise only its last line on failure). */
  verbose?: boolean;
}

async function verifyVersion(name: ImageName, tag: string): Promise<void> {
  const check = isBase(name) ? undefined : SPECS[name].versionCheck;
  if (!check) return;
  const [cmd, ...args] = check.argv;
  const r = await tryRun("docker", ["run", "--rm", "--entrypoint", cmd!, tag, ...args], { timeoutMs: 120_000 });
  // kingpin-based binaries (the Prometheus family) print their version on stderr
  if (!r.ok || !`${r.stdout}\n${r.stderr}`.includes(check.expect)) {
    // Untag it so the next run does not take the bad image for a finished one.
    await tryRun("docker", ["image", "rm", tag]);
    throw new LabError(
      `${tag}: expected "${check.expect}" in \`${check.argv.join(" ")}\`, got "${r.stdout || r.stderr}" ` +
        `(Debian moved on? update VERSIONS in test/lab/config.ts)`,
    );
  }
}

/** `docker build` with the legacy builder (Debian's engine 20.10, no buildx plugin needed). */
async function dockerBuild(cfg: LabConfig, name: ImageName, args: string[], opts: BuildOptions): Promise<void> {
  const r = await tryRun("docker", args, { env: { DOCKER_BUILDKIT: "0" }, stream: opts.verbose, timeoutMs: 20 * 60_000 });
  if (r.ok) return;
  const logDir = join(cfg.home, "logs");
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `build-${name}.log`);
  writeFileSync(log, `${r.stdout}\n${r.stderr}\n`);
  throw new LabError(`docker build of ${imageTag(name)} failed: ${lastLine(r.stderr) || lastLine(r.stdout)} (full output: ${log})`);
}

async function buildOne(name: ImageName, cfg: LabConfig, opts: BuildOptions, recipe: string, bundles: Map<string, Promise<string>>): Promise<void> {
  const tag = imageTag(name);
  if (isBase(name)) {
    const tar = await ensureRootfsTar(cfg, opts.refreshCaches, name === "base" ? cfg.suite : POSTGRES_PREVIOUS_SUITE);
    await importBase(tar, tag, recipe);
    return;
  }
  const spec = SPECS[name];
  const context = join(IMAGES_DIR, spec.dir);
  // A forced rebuild skips Docker's layer cache too, so it picks up Debian's updates.
  const noCache = opts.rebuild ? ["--no-cache"] : [];
  const common = ["build", "--force-rm", ...noCache, "--label", `${RECIPE_LABEL}=${recipe}`, "-t", tag];
  const version = n8nVersion(name);
  if (!version) {
    const target = spec.target ? ["--target", spec.target] : [];
    await dockerBuild(cfg, name, [...common, ...target, "-f", join(context, spec.dockerfile), context], opts);
    return;
  }
  // n8n: build the runtime, then copy the cached npm install into a container made from
  // it and commit that. The legacy builder's COPY of the 2.3 GB, 250k-file install spent
  // over 5 minutes hashing on 2 cores before copying anything.
  // Both n8n images share the runtime: the second build of it comes from Docker's layer cache.
  const bundleDir = await (bundles.get(version) ?? ensureN8nBundle(cfg, opts.refreshCaches, version));
  await dockerBuild(cfg, name, ["build", "--force-rm", ...noCache, "-t", N8N_RUNTIME_TAG, "-f", join(context, spec.dockerfile), context], opts);
  const stage = `btw-lab-n8n-stage-${version}-${process.pid}`;
  await tryRun("docker", ["rm", "-f", stage]);
  try {
    await run("docker", [
      "run", "--name", stage, "--user", "root", "--network", "none",
      "-v", `${bundleDir}:/src:ro`, "--entrypoint", "cp", N8N_RUNTIME_TAG, "-a", "/src/.", "/usr/local/lib/n8n/",
    ], { timeoutMs: 20 * 60_000 });
    // `docker run` overrode user and entrypoint; put back the runtime image's own.
    await run("docker", [
      "commit",
      "--change", "USER node",
      "--change", 'ENTRYPOINT ["tini", "--", "/docker-entrypoint.sh"]',
      "--change", "CMD []",
      "--change", `LABEL ${RECIPE_LABEL}=${recipe}`,
      stage, tag,
    ], { timeoutMs: 20 * 60_000 });
  } finally {
    await tryRun("docker", ["rm", "-f", stage]);
  }
}

/**
 * Starts the npm installs the n8n images among `wanted` need (image missing, or a forced
 * rebuild or refresh): version → its install folder. They run one after the other
 * (ensureN8nBundle's lock), VERSIONS.n8n first.
 */
async function startN8nInstalls(cfg: LabConfig, opts: BuildOptions, wanted: ReadonlySet<ImageName>): Promise<Map<string, Promise<string>>> {
  const bundles = new Map<string, Promise<string>>();
  for (const name of ["n8n", "n8nPrevious"] as const) {
    const version = n8nVersionOf(name)!;
    if (wanted.has(name) && (opts.rebuild || opts.refreshCaches || !(await imageRecipe(imageTag(name))))) {
      const bundle = ensureN8nBundle(cfg, opts.refreshCaches, version);
      bundle.catch(() => undefined); // awaited (and reported) by the n8n build or the caller
      bundles.set(version, bundle);
    }
  }
  return bundles;
}

/**
 * The npm installs a build of `names` would run, done now. labImages runs them before it
 * takes the lab lock, which they do not need (they have their own): a cold n8n install is
 * 5–12 min that other lanes' lab calls (labBare, labEdge) would otherwise wait out.
 */
export async function installN8nBundles(cfg: LabConfig, names: readonly ImageName[]): Promise<void> {
  await Promise.all((await startN8nInstalls(cfg, { rebuild: false, refreshCaches: false }, new Set(names))).values());
}

/**
 * Builds the images that are missing or whose recipe changed (or all, with `rebuild`),
 * in dependency order: base first, since every other image starts FROM it.
 */
export async function buildImages(cfg: LabConfig, opts: BuildOptions, names: readonly ImageName[] = ALL_IMAGES): Promise<void> {
  const wanted = new Set<ImageName>(names);
  // The n8n npm installs (~4 min each, network and CPU) run while the apt-based images build.
  const bundles = await startN8nInstalls(cfg, opts, wanted);
  let built = false;
  for (const name of ALL_IMAGES) {
    if (!wanted.has(name) && name !== "base" && !(name === "basePrevious" && wanted.has("postgresPrevious"))) continue;
    const tag = imageTag(name);
    const recipe = await recipeOf(name, cfg);
    const forced = opts.rebuild && wanted.has(name);
    if (!forced && (await imageRecipe(tag)) === recipe) continue;
    say(`building ${tag}`);
    await timed(`built ${tag}`, () => buildOne(name, cfg, opts, recipe, bundles));
    await verifyVersion(name, tag);
    built = true;
  }
  await Promise.all(bundles.values());
  if (built) await pruneLabImages();
}

/**
 * Images replaced by a rebuild linger untagged; removes ours (they carry the recipe label).
 * One still used by a running VM stays until the VM is replaced, so `up` calls this again.
 */
export async function pruneLabImages(): Promise<void> {
  await tryRun("docker", ["image", "prune", "-f", "--filter", `label=${RECIPE_LABEL}`]);
}
