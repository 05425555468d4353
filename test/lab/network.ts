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
  await ensureBridge(cfg, { name: cfg.network, subnet: cfg.subnet, gateway: cfg.gateway, iface: BRIDGE_IFACE });
}

/**
 * The second lab bridge, which plays the private network behind the edge (issue 14): the
 * tenant servers and the edge VM get a second address there; the host's address on it plays
 * the monitoring side of the private network.
 */
export async function ensurePrivateNetwork(cfg: LabConfig): Promise<void> {
  await ensureBridge(cfg, { name: cfg.privateNetwork.name, subnet: cfg.privateNetwork.subnet, gateway: cfg.privateNetwork.gateway, iface: PRIVATE_BRIDGE_IFACE });
}

const PRIVATE_BRIDGE_IFACE = "btw-lab1";

async function ensureBridge(cfg: LabConfig, net: { name: string; subnet: string; gateway: string; iface: string }): Promise<void> {
  const subnet = await currentSubnet(net.name);
  if (subnet === net.subnet) return;
  if (subnet !== undefined) {
    throw new LabError(`network ${net.name} exists with subnet ${subnet}, not ${net.subnet}; run \`npm run lab -- down\``);
  }
  say(`creating network ${net.name} (${net.subnet}, gateway ${net.gateway})`);
  await run("docker", [
    "network", "create",
    "--driver", "bridge",
    "--subnet", net.subnet,
    "--gateway", net.gateway,
    "--label", `${cfg.label}=network`,
    "--opt", `com.docker.network.bridge.name=${net.iface}`,
    net.name,
  ]);
}

/** Connects a lab container to the private network at a fixed address (no-op when it is). */
export async function connectPrivate(cfg: LabConfig, container: string, ip: string): Promise<void> {
  const r = await tryRun("docker", ["container", "inspect", "--format", `{{with index .NetworkSettings.Networks "${cfg.privateNetwork.name}"}}{{.IPAddress}}{{end}}`, container]);
  if (r.ok && r.stdout === ip) return;
  if (r.ok && r.stdout !== "") await run("docker", ["network", "disconnect", "-f", cfg.privateNetwork.name, container]);
  await run("docker", ["network", "connect", "--ip", ip, cfg.privateNetwork.name, container]);
}

/** Removes every network the lab labelled (the lab bridge, and any a test left behind). */
export async function removeNetworks(cfg: LabConfig): Promise<void> {
  const ids = (await run("docker", ["network", "ls", "-q", "--filter", `label=${cfg.label}`])).split("\n").filter(Boolean);
  if (ids.length) await run("docker", ["network", "rm", ...ids]);
}
