import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labConfig } from "../lab/config.js";
import { ensureDockerd, type EngineSpec } from "../lab/host-docker.js";
import { limitsProblems, probeLimits } from "../lab/limits-probe.js";
import { mountsUnder, processAlive } from "../lab/proc.js";
import { LabCleanup, labInfo, mustOnServer, onServer, uniqueName, type LabInfo } from "./support/lab.js";

// The lab itself: real SSH into each VM, each VM its own Docker engine pulling from the lab
// registry, containers on a VM reaching each other by name on a user network.
describe("the lab", () => {
  let lab: LabInfo;
  const cleanup = new LabCleanup();

  beforeAll(() => {
    lab = labInfo();
  });
  afterAll(() => cleanup.run());

  it("describes at least two servers, the registry and the four service images", () => {
    expect(lab.servers.length).toBeGreaterThanOrEqual(2);
    expect(new Set(lab.servers.map((s) => s.host)).size).toBe(lab.servers.length);
    for (const ref of Object.values(lab.images)) expect(ref.startsWith(`${lab.registry}/`)).toBe(true);
    expect(Object.keys(lab.images).sort()).toEqual(["caddy", "n8n", "postgres", "redis"]);
  });

  it("answers SSH with the lab key on every VM, with Docker and Compose v2", async () => {
    for (const server of lab.servers) {
      const hostname = await mustOnServer(server, ["hostname"]);
      expect(hostname.trim()).toBe(server.name);
      expect(await mustOnServer(server, ["docker", "compose", "version"])).toMatch(/Docker Compose version v?2\./);
      expect((await mustOnServer(server, ["docker", "info", "--format", "{{.Driver}}"])).trim()).toBe("overlay2");
    }
  });

  it("refuses SSH without the lab key", async () => {
    const server = lab.servers[0]!;
    const r = await onServer({ ...server, sshKey: "/dev/null" }, ["true"]);
    expect(r.code).not.toBe(0);
  });

  it("runs the lab's redis on a VM and reaches it from another container on a user network", async () => {
    const server = lab.servers[0]!;
    const net = cleanup.network(server, uniqueName("labtest-net"));
    await mustOnServer(server, ["docker", "network", "create", net]);
    const redis = cleanup.container(server, uniqueName("labtest-redis"));
    await mustOnServer(server, ["docker", "run", "-d", "--name", redis, "--network", net, lab.images.redis, "redis-server", "--requirepass", "s3cret"], { timeoutMs: 300_000 });
    // The official image's interface: redis-cli on PATH, password from the command line.
    let pong = "";
    for (let i = 0; i < 20 && pong !== "PONG"; i++) {
      const r = await onServer(server, ["docker", "run", "--rm", "--network", net, lab.images.redis, "redis-cli", "-h", redis, "-a", "s3cret", "--no-auth-warning", "ping"]);
      pong = r.stdout.trim();
      if (pong !== "PONG") await new Promise((res) => setTimeout(res, 250));
    }
    expect(pong).toBe("PONG");
    const denied = await onServer(server, ["docker", "run", "--rm", "--network", net, lab.images.redis, "redis-cli", "-h", redis, "ping"]);
    expect(denied.stdout + denied.stderr).toMatch(/NOAUTH/);
  });

  it("keeps VMs independent: a container on one engine is absent from the other", async () => {
    const [a, b] = [lab.servers[0]!, lab.servers[1]!];
    const name = cleanup.container(a, uniqueName("labtest-only-a"));
    await mustOnServer(a, ["docker", "run", "-d", "--name", name, "--entrypoint", "sleep", lab.images.redis, "300"]);
    expect((await mustOnServer(a, ["docker", "ps", "-q", "--filter", `name=^${name}$`])).trim()).not.toBe("");
    expect((await mustOnServer(b, ["docker", "ps", "-aq", "--filter", `name=^${name}$`])).trim()).toBe("");
    const idA = (await mustOnServer(a, ["docker", "info", "--format", "{{.ID}}"])).trim();
    const idB = (await mustOnServer(b, ["docker", "info", "--format", "{{.ID}}"])).trim();
    expect(idA).not.toBe(idB);
  });

  it("enforces CPU, memory and pids limits inside a VM", async () => {
    const report = await probeLimits(labConfig(), lab.servers[1]!);
    expect(limitsProblems(report)).toEqual([]);
  });
});

// The host engine has no systemd to restart it, and /run survives a machine restart here, so
// `up` must start dockerd over stale pid/socket files and an orphaned containerd. Tried on a
// second, throwaway dockerd (own pid file, socket, exec and data roots) in its own network
// namespace, so the lab's engine is never touched: dockerd started with `--bridge none`
// deletes any `docker0` it can see, and in the host namespace that is the host engine's.
describe("dockerd start-up over stale state", () => {
  const dir = mkdtempSync("/tmp/btw-lab-engine-");
  const engine: EngineSpec = {
    pidFile: join(dir, "docker.pid"),
    socket: join(dir, "docker.sock"),
    execRoot: join(dir, "exec"),
    dataRoot: join(dir, "data"),
    log: join(dir, "dockerd.log"),
    extraArgs: ["--bridge", "none", "--iptables=false", "--ip-masq=false"],
    wrapper: ["unshare", "--net", "--"],
  };
  const pidOf = (file: string) => Number.parseInt(readFileSync(file, "utf8"), 10);
  const answers = async () =>
    (await execa("docker", ["-H", `unix://${engine.socket}`, "version", "--format", "{{.Server.Version}}"], { reject: false })).exitCode === 0;
  const alive = processAlive;

  afterAll(async () => {
    if (existsSync(engine.pidFile)) {
      const pid = pidOf(engine.pidFile);
      if (alive(pid)) {
        process.kill(pid, "SIGTERM");
        for (let i = 0; i < 60 && alive(pid); i++) await new Promise((r) => setTimeout(r, 250));
      }
    }
    // A SIGKILLed dockerd leaves the bind mount it makes of its data root.
    for (const mp of mountsUnder(dir)) await execa("umount", ["-l", mp], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a dockerd, then recovers after it is SIGKILLed (stale pid file, socket, containerd)", async () => {
    await ensureDockerd(engine);
    expect(await answers()).toBe(true);
    const first = pidOf(engine.pidFile);
    const containerdPidFile = join(engine.execRoot, "containerd", "containerd.pid");
    const containerd = existsSync(containerdPidFile) ? pidOf(containerdPidFile) : undefined;

    process.kill(first, "SIGKILL");
    for (let i = 0; i < 40 && alive(first); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await answers()).toBe(false);
    expect(existsSync(engine.pidFile)).toBe(true); // stale, as after a crash

    await ensureDockerd(engine);
    expect(await answers()).toBe(true);
    expect(pidOf(engine.pidFile)).not.toBe(first);
    // Its containerd is gone too: it died with dockerd (parent-death signal) or was stopped.
    if (containerd !== undefined) expect(alive(containerd)).toBe(false);
  });
});
