import { LabError } from "./errors.js";
import { say } from "./log.js";
import { run, tryRun } from "./run.js";

// Debian packages the host needs. Names map to a command we can test for, so a machine
// that has the tool from elsewhere (a static docker CLI, say) is not touched needlessly.
const NEEDED: ReadonlyArray<{ pkg: string; probe: string }> = [
  { pkg: "docker.io", probe: "/usr/sbin/dockerd" },
  { pkg: "debootstrap", probe: "/usr/sbin/debootstrap" },
  { pkg: "docker-registry", probe: "/usr/bin/docker-registry" },
  { pkg: "openssh-client", probe: "/usr/bin/ssh-keygen" },
  { pkg: "iproute2", probe: "/usr/sbin/ip" },
];

async function installed(pkg: string): Promise<boolean> {
  const r = await tryRun("dpkg-query", ["-W", "-f", "${Status}", pkg]);
  return r.ok && r.stdout.includes("install ok installed");
}

async function exists(path: string): Promise<boolean> {
  return (await tryRun("test", ["-x", path])).ok;
}

export async function ensureHostPackages(): Promise<void> {
  const missing: string[] = [];
  for (const { pkg, probe } of NEEDED) {
    if (!(await exists(probe)) && !(await installed(pkg))) missing.push(pkg);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new LabError(`the lab needs root to install: ${missing.join(" ")}`);
  }
  say(`installing host packages: ${missing.join(" ")} (apt-get update first)`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  // apt-get update exits non-zero when any third-party source is unreachable; the Debian
  // lists may still be fresh, so the install below is the real test.
  const upd = await tryRun("apt-get", ["update"], { env });
  if (!upd.ok) say(`apt-get update reported problems; trying the install anyway`);
  await run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env });
}
