import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { LabConfig } from "./config.js";
import { BARE_TAG, VM_TAG } from "./config.js";
import { LabError } from "./errors.js";
import { sleep } from "./log.js";
import { run, spawnDetached, tryRun } from "./run.js";
import { ensureHostKey, sshRun, type LabServer } from "./ssh.js";

// A lab VM is a container on the lab bridge running sshd and (for `vm`) its own dockerd.
// `--privileged` fails on this machine kind (its bounding set lacks CAP_SYS_RESOURCE), so
// the VM gets every other capability, no seccomp/AppArmor, and the host's cgroup tree.

export interface VmSpec {
  name: string;
  ip: string;
  kind: "vm" | "bare";
}

export const vmSpec = (cfg: LabConfig, index: number): VmSpec => ({
  name: `lab-${index}`,
  ip: cfg.gateway.replace(/\.1$/, `.${10 + index}`),
  kind: "vm",
});

/** The edge VM (issue 14): a Docker VM like lab-N, the edge proxy's host. */
export const edgeVmSpec = (cfg: LabConfig): VmSpec => ({
  name: "lab-edge",
  ip: cfg.gateway.replace(/\.1$/, ".20"),
  kind: "vm",
});

/** A VM's address on the private network: lab-N .10+N, lab-edge .3 (Hetzner's layout: edges below servers). */
export function privateIpOf(cfg: LabConfig, name: string): string {
  const base = cfg.privateNetwork.gateway.replace(/\.1$/, "");
  if (name === "lab-edge") return `${base}.3`;
  const m = /^lab-(\d+)$/.exec(name);
  if (!m) throw new LabError(`${name} has no private address in the lab`);
  return `${base}.${10 + Number(m[1])}`;
}

export const bareSpec = (cfg: LabConfig): VmSpec => ({
  name: "lab-bare",
  ip: cfg.gateway.replace(/\.1$/, ".100"),
  kind: "bare",
});

export const dockerVolume = (vm: string): string => `btw-lab-${vm}-docker`;

interface Existing {
  spec: string;
  running: boolean;
}

async function inspectVm(cfg: LabConfig, name: string): Promise<Existing | undefined> {
  const r = await tryRun("docker", ["container", "inspect", "--format", `{{index .Config.Labels "${cfg.label}.spec"}} {{.State.Running}}`, name]);
  if (!r.ok) return undefined;
  const [spec = "", running = ""] = r.stdout.split(" ");
  return { spec, running: running === "true" };
}

/**
 * Creates, starts or replaces one VM. A VM is replaced when its image
 * or its run arguments changed (both hashed into a label), so `up` converges.
 */
export async function ensureVm(cfg: LabConfig, spec: VmSpec, publicKey: string, fresh = false): Promise<{ created: boolean }> {
  const tag = spec.kind === "vm" ? VM_TAG : BARE_TAG;
  const imageId = await run("docker", ["image", "inspect", "--format", "{{.Id}}", tag]);
  const hostKey = await ensureHostKey(cfg, spec.name);
  const runArgs = [
    "--name", spec.name,
    "--hostname", spec.name,
    "--label", `${cfg.label}=${spec.kind}`,
    "--network", cfg.network,
    "--ip", spec.ip,
    // tini as PID 1: reaps orphans and forwards SIGTERM to the start script.
    "--init",
    "--cap-add", "ALL",
    "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined",
    "--security-opt", "apparmor=unconfined",
    // /proc/sys writable: the inner dockerd sets per-container sysctls (IPv6 off, forwarding).
    "--security-opt", "systempaths=unconfined",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run",
    "--tmpfs", "/tmp",
    // A volume (not the container's overlay) so the inner engine can use overlay2.
    "--mount", `type=volume,src=${dockerVolume(spec.name)},dst=/var/lib/docker,volume-label=${cfg.label}=volume`,
    "-v", `${hostKey.dir}:/etc/ssh/btw-lab:ro`,
    "-e", `BTW_LAB_AUTHORIZED_KEY=${publicKey}`,
    // Only Docker VMs get the registry in daemon.json: a bare server starts with no Docker
    // config at all, and bootstrap must write it.
    ...(spec.kind === "vm" ? ["-e", `BTW_LAB_REGISTRY=${cfg.registry}`] : []),
  ];
  const specHash = createHash("sha256").update(`${imageId}\0${runArgs.join("\0")}`).digest("hex").slice(0, 16);
  const existing = await inspectVm(cfg, spec.name);
  if (fresh) {
    // A fresh VM also gets a fresh disk: whatever a previous test installed is gone.
    if (existing) await run("docker", ["rm", "-f", spec.name]);
    await tryRun("docker", ["volume", "rm", "-f", dockerVolume(spec.name)]);
  } else if (existing?.spec === specHash) {
    if (!existing.running) await run("docker", ["start", spec.name]);
    return { created: false };
  }
  if (existing && !fresh) await run("docker", ["rm", "-f", spec.name]);
  await run("docker", ["run", "-d", ...runArgs, "--label", `${cfg.label}.spec=${specHash}`, tag]);
  return { created: true };
}

export const serverOf = (spec: VmSpec, sshKey: string): LabServer => ({
  name: spec.name,
  host: spec.ip,
  port: 22,
  user: "root",
  sshKey,
});

/** Waits until the VM answers over SSH and (for `vm`) its engine runs Compose. */
export async function waitVm(server: LabServer, kind: VmSpec["kind"], timeoutMs = 90_000): Promise<void> {
  const probe = kind === "vm" ? ["docker", "compose", "version"] : ["true"];
  const deadline = Date.now() + timeoutMs;
  let last = "";
  // A test killed while it froze the VM's engine (data-safety SIGSTOPs dockerd) leaves it
  // stopped, and every later `docker` call there hangs: continue it first (a no-op otherwise).
  if (kind === "vm") await sshRun(server, ["sh", "-c", "pkill -CONT -x dockerd; pkill -CONT -x containerd; true"], { timeoutMs: 15_000 });
  while (Date.now() < deadline) {
    const r = await sshRun(server, probe, { timeoutMs: 15_000 });
    if (r.ok && (kind === "bare" || r.stdout.includes("Docker Compose"))) {
      // `docker compose version` needs no engine; make sure the engine answers too.
      if (kind === "bare" || (await sshRun(server, ["docker", "info", "--format", "{{.ServerVersion}}"], { timeoutMs: 15_000 })).ok) return;
    }
    last = r.stderr || r.stdout || last;
    await sleep(500);
  }
  throw new LabError(`${server.name} (${server.host}) not ready after ${timeoutMs / 1000} s: ${last.split("\n").pop()}`);
}

/** Every container the lab started (VMs and lab-bare). */
export async function labContainers(cfg: LabConfig): Promise<Array<{ name: string; kind: string; running: boolean; ip: string }>> {
  const out = await run("docker", ["ps", "-a", "--filter", `label=${cfg.label}`, "--format", "{{.Names}}"]);
  const names = out.split("\n").filter(Boolean).sort();
  const result = [];
  for (const name of names) {
    const r = await run("docker", [
      "container", "inspect", "--format",
      `{{index .Config.Labels "${cfg.label}"}} {{.State.Running}} {{with index .NetworkSettings.Networks "${cfg.network}"}}{{.IPAddress}}{{end}}`,
      name,
    ]);
    const [kind = "", running = "", ip = ""] = r.split(" ");
    result.push({ name, kind, running: running === "true", ip });
  }
  return result;
}

/** Stops VMs gracefully in parallel (inner engines stop their containers), then removes them. */
export async function removeVms(cfg: LabConfig): Promise<void> {
  const names = (await labContainers(cfg)).map((c) => c.name);
  if (names.length === 0) return;
  await tryRun("docker", ["stop", "--time", "10", ...names], { timeoutMs: 60_000 });
  await run("docker", ["rm", "-f", "-v", ...names]);
}

/**
 * Removes the lab's volumes. A VM's Docker volume holds ~3 GB in ~300k files once images
 * are pulled, and deleting that takes ~40–60 s; so each volume's data folder is first
 * renamed into a trash folder in Docker's own root (the same mount, so the rename is
 * instant; the lab home may be another mount), the emptied volume is removed, and a detached
 * `rm -rf` empties the trash while the caller carries on.
 */
export async function removeVolumes(cfg: LabConfig): Promise<void> {
  const vols = (await run("docker", ["volume", "ls", "-q", "--filter", `label=${cfg.label}`])).split("\n").filter(Boolean);
  if (vols.length === 0) return;
  const trash = await trashDir();
  mkdirSync(trash, { recursive: true });
  for (const vol of vols) {
    const mount = await tryRun("docker", ["volume", "inspect", "--format", "{{.Mountpoint}}", vol]);
    if (!mount.ok || !mount.stdout.startsWith("/")) continue;
    try {
      renameSync(mount.stdout, join(trash, `${vol}-${Date.now()}`));
      mkdirSync(mount.stdout);
    } catch {
      // Another filesystem, or a driver without a local folder: plain removal below.
    }
  }
  await run("docker", ["volume", "rm", "-f", ...vols], { timeoutMs: 300_000 });
  emptyTrash(cfg, trash);
}

async function trashDir(): Promise<string> {
  const root = await run("docker", ["info", "--format", "{{.DockerRootDir}}"]);
  return join(root || "/var/lib/docker", "btw-lab-trash");
}

/** Starts a detached `rm -rf` of everything in the lab trash (also what an earlier one left). */
function emptyTrash(cfg: LabConfig, trash: string): void {
  const entries = existsSync(trash) ? readdirSync(trash).map((e) => join(trash, e)) : [];
  if (entries.length === 0) return;
  const fd = openSync(join(cfg.home, "trash.log"), "a");
  spawnDetached("rm", ["-rf", "--", ...entries], fd);
  closeSync(fd);
}

/** Pulls images into a VM's engine from the lab registry (no-op for layers it has). */
export async function pullImages(server: LabServer, refs: readonly string[]): Promise<void> {
  for (const ref of refs) {
    const r = await sshRun(server, ["docker", "pull", "-q", ref], { timeoutMs: 10 * 60_000 });
    if (!r.ok) throw new LabError(`${server.name}: docker pull ${ref} failed: ${r.stderr.split("\n").pop()}`);
  }
}
