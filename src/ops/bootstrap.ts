import type { Config } from "../config/schema.js";
import {
  bootstrapCommand,
  bootstrapScriptArgs,
  cloudInitWait,
  containerRunning,
  firstBootOutcome,
  parseBootstrapOutput,
  requireBootstrapped,
  type BootstrapReport,
  type FirstBoot,
} from "../core/infra/bootstrap.js";
import { PROXY_LAYOUT } from "../core/proxy/layout.js";
import { OperationError } from "../errors.js";
import { asset } from "./assets.js";
import type { Host } from "./host.js";

// A host becomes a btw server: the bootstrap script (templates/cloud-init/bootstrap.sh,
// the same file cloud-init runs on servers btw makes) travels on stdin and runs as root.
// It is idempotent and says what it changed; callers add the proxy and the check.

export const BOOTSTRAP_SCRIPT = "templates/cloud-init/bootstrap.sh";

export async function runBootstrap(host: Host, config: Config, sshUser: string): Promise<BootstrapReport> {
  const argv = bootstrapCommand(sshUser, bootstrapScriptArgs(config.bootstrap));
  const r = await host.run(argv, { input: asset(BOOTSTRAP_SCRIPT), allowFailure: true, timeoutMs: 20 * 60_000 });
  return requireBootstrapped(host.name, parseBootstrapOutput(r.stdout), r.exitCode, r.stderr);
}

export async function proxyRunning(host: Host): Promise<boolean> {
  const r = await host.run(containerRunning(PROXY_LAYOUT.container), { allowFailure: true });
  return r.exitCode === 0 && r.stdout.trim() === "true";
}

/**
 * Waits for a new server's first boot: SSH answering, then `cloud-init status --wait`.
 * Connection failures are retried until the deadline (the server may still be booting).
 */
export async function waitForFirstBoot(host: Host, sshUser: string, timeoutMs: number, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<FirstBoot> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await host.run(cloudInitWait(sshUser), { allowFailure: true, timeoutMs: Math.max(1_000, deadline - Date.now()) });
      return firstBootOutcome(r.exitCode);
    } catch (e) {
      last = (e as Error).message;
      await sleep(5_000);
    }
  }
  throw new OperationError(`${host.name} did not finish its first boot within ${Math.round(timeoutMs / 1000)} s${last ? ` (last: ${last})` : ""}`, {
    code: "first-boot-timeout",
    hint: `when it answers, run \`btw server bootstrap ${host.name}\` (raise hetzner.cloudInitTimeoutSec for slow boots)`,
  });
}
