import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { LabConfig } from "./config.js";
import { labPaths } from "./config.js";
import { LabError } from "./errors.js";
import { say, sleep } from "./log.js";
import { spawnDetached, tryRun } from "./run.js";

const DOCKER_PID = "/var/run/docker.pid";
const DOCKER_SOCK = "/var/run/docker.sock";
const CONTAINERD_DIR = "/var/run/docker/containerd";

async function engineAnswers(): Promise<boolean> {
  return (await tryRun("docker", ["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 })).ok;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
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
 * A dockerd that died leaves its pid file, its socket and the containerd it managed; a new
 * dockerd then hangs on the old containerd socket (LAB.md). Clear them, ending only the
 * orphaned dockerd-managed containerd (recognised by its docker-owned config path).
 */
async function clearStaleEngine(): Promise<void> {
  const containerdPid = readPid(`${CONTAINERD_DIR}/containerd.pid`);
  if (containerdPid && pidAlive(containerdPid) && cmdline(containerdPid).includes(CONTAINERD_DIR)) {
    say(`stopping orphaned containerd (pid ${containerdPid}) left by a dead dockerd`);
    process.kill(containerdPid, "SIGTERM");
    if (!(await waitFor(() => !pidAlive(containerdPid), 15_000))) process.kill(containerdPid, "SIGKILL");
  }
  const containerdFiles = ["containerd.sock", "containerd.sock.ttrpc", "containerd-debug.sock", "containerd.pid"];
  for (const f of [DOCKER_PID, DOCKER_SOCK, ...containerdFiles.map((name) => `${CONTAINERD_DIR}/${name}`)]) {
    rmSync(f, { force: true });
  }
}

/** Makes sure the host engine answers, starting dockerd by hand (no systemd here). */
export async function ensureHostDocker(cfg: LabConfig): Promise<void> {
  if (await engineAnswers()) return;
  const pid = readPid(DOCKER_PID);
  if (pid && pidAlive(pid) && cmdline(pid).includes("dockerd")) {
    say(`dockerd (pid ${pid}) is running but not answering yet; waiting`);
    if (await waitFor(engineAnswers, 60_000)) return;
    throw new LabError(`dockerd (pid ${pid}) does not answer on ${DOCKER_SOCK}; see its log`);
  }
  await clearStaleEngine();
  const log = labPaths(cfg).dockerdLog;
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, "a");
  say(`starting dockerd (log: ${log})`);
  // The gateway registry is listed so the host can also pull the refs the VMs use.
  spawnDetached("dockerd", ["--insecure-registry", cfg.registry], fd);
  closeSync(fd);
  if (!(await waitFor(engineAnswers, 60_000))) {
    throw new LabError(`dockerd did not come up within 60 s; see ${log}`);
  }
  if (!existsSync(DOCKER_SOCK)) throw new LabError(`dockerd answers but ${DOCKER_SOCK} is missing`);
}
