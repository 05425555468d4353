import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import type { LabInfo, LabServer } from "../../lab/lab.js";
import { sshRun } from "../../lab/ssh.js";

// Helpers for e2e tests on the lab: the lab's description (from the global set-up), running
// argv on a VM over SSH with the lab key, and a cleanup registry for what a test creates.

export type { LabInfo, LabServer };

/** The running lab, as the e2e global set-up brought it up. */
export function labInfo(): LabInfo {
  return inject("lab");
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
 * A fresh `lab-bare` server (sshd, no Docker; new disk each call) for bootstrap tests.
 * Calls the lab code directly, under the same lock as `npm run lab`.
 */
export async function freshBareServer(): Promise<LabServer> {
  const [{ labConfig }, { labBare }] = await Promise.all([import("../../lab/config.js"), import("../../lab/lab.js")]);
  return labBare(labConfig());
}
