import type { LabConfig } from "./config.js";
import { LabError } from "./errors.js";
import { say } from "./log.js";
import { run, tryRun } from "./run.js";

// The lab bridge on the host engine: fixed name, subnet and gateway, so the registry
// address and the VMs' addresses are the same on every machine and every run.
const BRIDGE_IFACE = "btw-lab0";

async function currentSubnet(name: string): Promise<string | undefined> {
  const r = await tryRun("docker", ["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", name]);
  return r.ok ? r.stdout : undefined;
}

export async function ensureNetwork(cfg: LabConfig): Promise<void> {
  const subnet = await currentSubnet(cfg.network);
  if (subnet === cfg.subnet) return;
  if (subnet !== undefined) {
    throw new LabError(`network ${cfg.network} exists with subnet ${subnet}, not ${cfg.subnet}; run \`npm run lab -- down\``);
  }
  say(`creating network ${cfg.network} (${cfg.subnet}, gateway ${cfg.gateway})`);
  await run("docker", [
    "network", "create",
    "--driver", "bridge",
    "--subnet", cfg.subnet,
    "--gateway", cfg.gateway,
    "--label", `${cfg.label}=network`,
    "--opt", `com.docker.network.bridge.name=${BRIDGE_IFACE}`,
    cfg.network,
  ]);
}

/** Removes every network the lab labelled (the lab bridge, and any a test left behind). */
export async function removeNetworks(cfg: LabConfig): Promise<void> {
  const ids = (await run("docker", ["network", "ls", "-q", "--filter", `label=${cfg.label}`])).split("\n").filter(Boolean);
  if (ids.length) await run("docker", ["network", "rm", ...ids]);
}
