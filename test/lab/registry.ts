import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabConfig, PushedImage } from "./config.js";
import { labPaths, serviceTag } from "./config.js";
import { LabError } from "./errors.js";
import { say, sleep } from "./log.js";
import { processAlive, processCmdline } from "./proc.js";
import { run, spawnDetached, tryRun } from "./run.js";

// The lab registry is Debian's docker-registry (distribution 2.8) run as host processes.
// Two listeners share one storage folder: the lab gateway (where VMs pull) and loopback
// (where the host engine pushes: Docker trusts 127.0.0.0/8 over plain HTTP without
// restarting dockerd). Pushes go through one, pulls through the other; storage is plain files.

interface Listener {
  id: "gateway" | "loopback";
  addr: string;
}

const listeners = (cfg: LabConfig): Listener[] => [
  { id: "gateway", addr: cfg.registry },
  { id: "loopback", addr: cfg.registryHostSide },
];

const files = (cfg: LabConfig, l: Listener) => {
  const dir = labPaths(cfg).registryDir;
  return {
    config: join(dir, `config-${l.id}.yml`),
    pid: join(dir, `${l.id}.pid`),
    log: join(dir, `${l.id}.log`),
  };
};

function configYaml(storage: string, addr: string): string {
  return [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${addr}`,
    "",
  ].join("\n");
}

function alivePid(pidFile: string, mustContain: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
    const cmd = processCmdline(pid);
    return processAlive(pid) && cmd.includes("registry") && cmd.includes(mustContain) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function answers(addr: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${addr}/v2/`, { signal: AbortSignal.timeout(2_000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Starts whichever listener is not running; needs the lab bridge (its gateway address). */
export async function ensureRegistry(cfg: LabConfig): Promise<void> {
  const storage = join(labPaths(cfg).registryDir, "data");
  mkdirSync(storage, { recursive: true });
  for (const l of listeners(cfg)) {
    const f = files(cfg, l);
    if (alivePid(f.pid, f.config) && (await answers(l.addr))) continue;
    writeFileSync(f.config, configYaml(storage, l.addr));
    const fd = openSync(f.log, "a");
    const pid = spawnDetached("docker-registry", ["serve", f.config], fd);
    closeSync(fd);
    if (pid === undefined) throw new LabError(`could not start docker-registry for ${l.addr}`);
    writeFileSync(f.pid, `${pid}\n`);
    say(`started registry on ${l.addr} (pid ${pid}, log ${f.log})`);
    const deadline = Date.now() + 15_000;
    while (!(await answers(l.addr))) {
      if (Date.now() > deadline || !alivePid(f.pid, f.config)) {
        const tail = existsSync(f.log) ? readFileSync(f.log, "utf8").trim().split("\n").pop() : "";
        throw new LabError(`registry on ${l.addr} did not come up: ${tail || "no log"}`);
      }
      await sleep(200);
    }
  }
}

export async function registryRunning(cfg: LabConfig): Promise<boolean> {
  for (const l of listeners(cfg)) if (!(await answers(l.addr))) return false;
  return true;
}

export async function stopRegistry(cfg: LabConfig): Promise<void> {
  for (const l of listeners(cfg)) {
    const f = files(cfg, l);
    const pid = alivePid(f.pid, f.config);
    if (pid) {
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 50 && alivePid(f.pid, f.config); i++) await sleep(100);
    }
    rmSync(f.pid, { force: true });
  }
}

/** Registry ref the VMs pull, e.g. 172.29.0.1:5000/btw/n8n:2.8.4. */
export const registryRef = (cfg: LabConfig, name: PushedImage): string => `${cfg.registry}/${serviceTag(name)}`;

/**
 * Pushes `names` (built: the caller builds them first) through the loopback listener; layers
 * already there are skipped. Only what a run asked for: an image nobody built (the older n8n
 * after a demo's `up`) has no local tag to push.
 */
export async function pushImages(cfg: LabConfig, names: readonly PushedImage[]): Promise<void> {
  await Promise.all(
    names.map(async (name) => {
      const hostRef = `${cfg.registryHostSide}/${serviceTag(name)}`;
      await run("docker", ["tag", serviceTag(name), hostRef]);
      await run("docker", ["push", "--quiet", hostRef], { timeoutMs: 15 * 60_000 });
    }),
  );
}

/**
 * Drops layers no tag points at any more (every n8n rebuild leaves ~250 MB behind). The
 * registry must be stopped: garbage-collect is not safe against concurrent pushes.
 */
export async function collectRegistryGarbage(cfg: LabConfig): Promise<void> {
  const f = files(cfg, listeners(cfg)[0]!);
  if (!existsSync(f.config)) return;
  await tryRun("docker-registry", ["garbage-collect", "--delete-untagged", f.config], { timeoutMs: 120_000 });
}
