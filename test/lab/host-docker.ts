import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { LabConfig } from "./config.js";
import { labPaths } from "./config.js";
import { LabError } from "./errors.js";
import { say, sleep } from "./log.js";
import { processAlive, processCmdline } from "./proc.js";
import { spawnDetached, tryRun } from "./run.js";

/** Where a dockerd keeps its pid, socket and runtime state (its managed containerd too). */
export interface EngineSpec {
  pidFile: string;
  socket: string;
  execRoot: string;
  /** Unset: dockerd's default (/var/lib/docker). */
  dataRoot?: string;
  log: string;
  extraArgs: string[];
  /** Argv put before `dockerd` (a test runs one in its own network namespace). */
  wrapper?: string[];
}

/** The host engine everyone on the machine uses, at dockerd's default paths. */
export function hostEngine(cfg: LabConfig): EngineSpec {
  return {
    pidFile: "/var/run/docker.pid",
    socket: "/var/run/docker.sock",
    execRoot: "/var/run/docker",
    log: labPaths(cfg).dockerdLog,
    // The gateway registry is listed so the host can also pull the refs the VMs use.
    extraArgs: ["--insecure-registry", cfg.registry],
  };
}

async function engineAnswers(engine: EngineSpec): Promise<boolean> {
  const r = await tryRun("docker", ["-H", `unix://${engine.socket}`, "version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 });
  return r.ok;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(250);
  }
  return check();
}

/**
 * A dockerd that died (or a machine restarted: /run is not a tmpfs here) leaves its pid file,
 * its socket and the containerd it managed; a new dockerd then hangs on the old containerd
 * socket (LAB.md). Clear them, ending only an orphaned dockerd-managed containerd
 * (recognised by its config path inside this engine's exec root).
 */
async function clearStaleEngine(engine: EngineSpec): Promise<void> {
  const dir = join(engine.execRoot, "containerd");
  const containerdPid = readPid(join(dir, "containerd.pid"));
  if (containerdPid && processAlive(containerdPid) && processCmdline(containerdPid).includes(dir)) {
    say(`stopping orphaned containerd (pid ${containerdPid}) left by a dead dockerd`);
    process.kill(containerdPid, "SIGTERM");
    if (!(await waitFor(() => !processAlive(containerdPid), 15_000))) process.kill(containerdPid, "SIGKILL");
  }
  const containerdFiles = ["containerd.sock", "containerd.sock.ttrpc", "containerd-debug.sock", "containerd.pid"];
  for (const f of [engine.pidFile, engine.socket, ...containerdFiles.map((name) => join(dir, name))]) {
    rmSync(f, { force: true });
  }
}

/** Makes sure the engine answers, starting dockerd by hand (no systemd here). */
export async function ensureDockerd(engine: EngineSpec): Promise<void> {
  if (await engineAnswers(engine)) return;
  const pid = readPid(engine.pidFile);
  if (pid && processAlive(pid) && processCmdline(pid).includes("dockerd")) {
    say(`dockerd (pid ${pid}) is running but not answering yet; waiting`);
    if (await waitFor(() => engineAnswers(engine), 60_000)) return;
    throw new LabError(`dockerd (pid ${pid}) does not answer on ${engine.socket}; see ${engine.log}`);
  }
  await clearStaleEngine(engine);
  mkdirSync(dirname(engine.log), { recursive: true });
  const fd = openSync(engine.log, "a");
  say(`starting dockerd (log: ${engine.log})`);
  const [cmd = "dockerd", ...wrapperArgs] = [...(engine.wrapper ?? []), "dockerd"];
  spawnDetached(cmd, [
    ...wrapperArgs,
    "--pidfile", engine.pidFile,
    "--host", `unix://${engine.socket}`,
    "--exec-root", engine.execRoot,
    ...(engine.dataRoot ? ["--data-root", engine.dataRoot] : []),
    ...engine.extraArgs,
  ], fd);
  closeSync(fd);
  if (!(await waitFor(() => engineAnswers(engine), 60_000))) {
    throw new LabError(`dockerd did not come up within 60 s; see ${engine.log}`);
  }
}

export const ensureHostDocker = (cfg: LabConfig): Promise<void> => ensureDockerd(hostEngine(cfg));
