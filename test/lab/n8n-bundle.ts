import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabConfig } from "./config.js";
import { VERSIONS, labPaths } from "./config.js";
import { LabError } from "./errors.js";
import { withDirLock } from "./lock.js";
import { say, timed } from "./log.js";
import { lastLine, run, tryRun } from "./run.js";

// n8n is installed with the host's npm: inside a container HTTPS to the npm registry fails
// (the egress proxy's CA is only trusted by the host). The result (~2.3 GB, ~4 min) is
// cached in the lab home and COPY'd into the image. Node 20 ABI matches Debian trixie's
// nodejs 20, and glibc binaries built on bookworm run on trixie. One cache folder per
// version (the lab has two: VERSIONS.n8n and N8N_PREVIOUS); they share npm's own cache,
// so installs take turns (see ensureN8nBundle).
const packageJson = (version: string) => ({
  name: "btw-lab-n8n",
  private: true,
  dependencies: { n8n: version },
  // n8n's xlsx dependency points at a tarball on a host we cannot reach.
  overrides: { xlsx: "0.18.5" },
});

function installedVersion(dir: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, "node_modules", "n8n", "package.json"), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

const PRUNED_MARK = ".btw-lab-pruned";
/** What is installed and pruned; part of the n8n image recipe, so changing it rebuilds the image. */
export const bundleRecipe = (version: string): string => `n8n@${version} xlsx@0.18.5 prune:maps,dts`;

/**
 * Source maps and type declarations are ~135k of the install's ~250k files (~1 GB) and
 * nothing loads them at run time; every file costs in the image copy, commit, push and
 * each VM's pull. TypeScript's own lib/*.d.ts stay: the compiler needs them if run.
 */
async function prune(dir: string, version: string): Promise<void> {
  const mark = join(dir, PRUNED_MARK);
  if (existsSync(mark) && readFileSync(mark, "utf8").trim() === bundleRecipe(version)) return;
  await run("find", [
    join(dir, "node_modules"),
    "-type", "f",
    "(", "-name", "*.map", "-o", "-name", "*.d.ts", "-o", "-name", "*.d.mts", "-o", "-name", "*.d.cts", ")",
    "-not", "-path", "*/node_modules/typescript/*",
    "-delete",
  ]);
  writeFileSync(mark, `${bundleRecipe(version)}\n`);
}

/** Long enough for another install under load (12 min measured; npm's timeout below is 20). */
const INSTALL_LOCK_WAIT_MS = 25 * 60_000;

/** Installed and pruned as bundleRecipe says: nothing left to do. */
const bundleReady = (dir: string, version: string): boolean =>
  installedVersion(dir) === version && existsSync(join(dir, PRUNED_MARK)) && readFileSync(join(dir, PRUNED_MARK), "utf8").trim() === bundleRecipe(version);

/**
 * The cached install directory of n8n@version (package.json + node_modules), made if missing.
 * One npm install at a time, whatever the version: two at once (the lab's two versions built
 * in parallel on 2 cores) raced in npm's shared cache ("Cannot find module
 * …/@sentry/node-cpu-profiler/scripts/check-build.js"). The lock lives here, not in the
 * callers: the lab builds under its own lock, but test/support/n8n.ts (integration tests)
 * calls this outside it.
 */
export async function ensureN8nBundle(cfg: LabConfig, refresh: boolean, version: string = VERSIONS.n8n): Promise<string> {
  const dir = labPaths(cfg).n8nDirOf(version);
  if (!refresh && bundleReady(dir, version)) return dir;
  mkdirSync(labPaths(cfg).cacheDir, { recursive: true });
  return withDirLock(labPaths(cfg).npmInstallLock, `npm install n8n@${version}`, async () => {
    // whoever held the lock may have installed this very version meanwhile
    if (refresh || installedVersion(dir) !== version) await install(dir, version);
    await prune(dir, version);
    return dir;
  }, INSTALL_LOCK_WAIT_MS);
}

async function install(dir: string, version: string): Promise<void> {
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  writeFileSync(join(partial, "package.json"), `${JSON.stringify(packageJson(version), null, 2)}\n`);
  say(`installing n8n@${version} with npm into ${partial} (takes ~4 min)`);
  const r = await timed(`npm install n8n@${version}`, () =>
    tryRun("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: partial,
      timeoutMs: 20 * 60_000,
    }),
  );
  if (!r.ok || installedVersion(partial) !== version) {
    throw new LabError(`npm install of n8n@${version} failed: ${lastLine(r.stderr) || "n8n missing afterwards"}`);
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  if (!existsSync(join(dir, "node_modules", ".bin", "n8n"))) throw new LabError(`n8n binary missing in ${dir}`);
}
