import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import type { PushedImage } from "../../lab/config.js";
import type { LabInfo, LabServer } from "../../lab/lab.js";
import { sshRun } from "../../lab/ssh.js";
import { SERVERS_PER_LANE, laneIndex } from "./lanes.js";

export { SERVERS_PER_LANE, e2eLanes } from "./lanes.js";

// Helpers for e2e tests on the lab: the lab's description (from the global set-up), running
// argv on a VM over SSH with the lab key, a cleanup registry for what a test creates, and the
// lab images and servers only some files use (built on first use).

export type { LabInfo, LabServer };

/** The lab as this file sees it: `servers` are its lane's pair; `allServers` every lab-N (for scrubbing leftovers). */
export type LaneLab = LabInfo & { lane: number; allServers: LabServer[] };

/** The running lab, as the e2e global set-up brought it up, narrowed to this file's lane. */
export function labInfo(): LaneLab {
  const lab = inject("lab");
  const lane = laneIndex();
  const servers = lab.servers.slice(lane * SERVERS_PER_LANE, (lane + 1) * SERVERS_PER_LANE);
  if (servers.length < SERVERS_PER_LANE) throw new Error(`lane ${lane + 1} needs lab servers ${lane * SERVERS_PER_LANE + 1}-${(lane + 1) * SERVERS_PER_LANE}; the lab has ${lab.servers.length}`);
  return { ...lab, servers, allServers: lab.servers, lane: lane + 1 };
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv as root on a lab VM (`ssh -o BatchMode=yes -o StrictHostKeyChecking=no
 * -o UserKnownHostsFile=/dev/null -i <lab key>`); each word is quoted for the remote shell.
 */
export async function onServer(server: LabServer, argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Ran> {
  const r = await sshRun(server, argv, { input: opts.input, timeoutMs: opts.timeoutMs ?? 120_000 });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like onServer, but throws (with the remote stderr) unless the command succeeds. */
export async function mustOnServer(server: LabServer, argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await onServer(server, argv, opts);
  if (r.code !== 0) throw new Error(`${server.name}: \`${argv.join(" ")}\` exited ${r.code}: ${r.stderr.trim().split("\n").pop()}`);
  return r.stdout;
}

/** A name no other test run uses, for containers, networks and volumes on a VM. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

type Kind = "container" | "network" | "volume";

/**
 * Records what a test made on which VM and removes it afterwards, newest first (containers
 * before the networks and volumes they use). Call `track` right after creating a thing.
 */
export class LabCleanup {
  private readonly items: Array<{ server: LabServer; kind: Kind; name: string }> = [];

  track(server: LabServer, kind: Kind, name: string): string {
    this.items.push({ server, kind, name });
    return name;
  }

  container(server: LabServer, name: string): string {
    return this.track(server, "container", name);
  }

  network(server: LabServer, name: string): string {
    return this.track(server, "network", name);
  }

  volume(server: LabServer, name: string): string {
    return this.track(server, "volume", name);
  }

  /** Removes everything tracked; reports failures together instead of stopping at one. */
  async run(): Promise<void> {
    const failures: string[] = [];
    for (const item of this.items.splice(0).reverse()) {
      const argv =
        item.kind === "container" ? ["docker", "rm", "-f", "-v", item.name]
        : item.kind === "network" ? ["docker", "network", "rm", item.name]
        : ["docker", "volume", "rm", "-f", item.name];
      const r = await onServer(item.server, argv);
      if (r.code !== 0 && !/No such|not found/i.test(r.stderr)) failures.push(`${item.server.name} ${item.kind} ${item.name}: ${r.stderr.trim()}`);
    }
    if (failures.length) throw new Error(`cleanup failed: ${failures.join("; ")}`);
  }
}

/**
 * A fresh `lab-bare` server (sshd, no Docker; new disk each call) for bootstrap tests; its
 * image is built on first use (`up` leaves it out). Calls the lab code directly, under the
 * same lock as `npm run lab`: use LAB_IMAGES_TIMEOUT_MS for the hook.
 */
export async function freshBareServer(): Promise<LabServer> {
  const [{ labConfig }, { labBare }] = await Promise.all([import("../../lab/config.js"), import("../../lab/lab.js")]);
  return labBare(labConfig());
}

/**
 * For a hook that calls ensureLabImages or freshBareServer: a cold build, and the lab lock
 * (which waits up to 30 min for another lane's build).
 */
export const LAB_IMAGES_TIMEOUT_MS = 45 * 60_000;

/**
 * Lab images the global set-up leaves out (`up` builds the demo's only): the older n8n and
 * Postgres, the monitoring images. Built on first use (a cold n8n 2.6.4 is an npm install of
 * ~5 min and more under load), pushed to the lab registry, pulled into `servers` when given;
 * returns their registry refs (the same as `labInfo()`'s). Calls the lab code directly, under
 * the same lock as `npm run lab`; another lane's file may be building while this one waits.
 *
 *   beforeAll(async () => {
 *     await ensureLabImages(["n8nPrevious"], labInfo().servers);
 *   }, LAB_IMAGES_TIMEOUT_MS);
 */
export async function ensureLabImages<N extends PushedImage>(names: readonly N[], servers: readonly LabServer[] = []): Promise<Record<N, string>> {
  const [{ labConfig }, { labImages }] = await Promise.all([import("../../lab/config.js"), import("../../lab/lab.js")]);
  return labImages(labConfig(), names, { pullInto: servers });
}
