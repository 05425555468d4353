// CI of stop 31: a restore was killed while `compose up --wait` started its stack; the remote
// `up` lived on (no hangup without a TTY, nothing written while it waits), and the
// rollback's own `up` raced it on the runner: "Conflict. The container name
// "/80228cd61ec3_btw-ds-rst-runner" is already in use". Host.run now ends such a stray `up`
// of the same project before its own.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { composeDown, composeLogs, composeUp, tenantComposeUpProject, stopStrayComposeUp } from "../../../src/core/commands/compose.js";
import { proxyComposeUp } from "../../../src/core/commands/proxy.js";
import { Host } from "../../../src/ops/host.js";
import type { RunOptions, SshClient, SshResult } from "../../../src/remote/ssh.js";

describe("stopStrayComposeUp", () => {
  it("is asked for every compose up of a tenant (converge, create), for no other compose command and no other stack", () => {
    expect(tenantComposeUpProject(composeUp("ds-rst", { profiles: [], wait: 300 }))).toBe("btw-ds-rst");
    expect(tenantComposeUpProject(composeDown("ds-rst", { volumes: false }))).toBeUndefined();
    expect(tenantComposeUpProject(composeLogs("ds-rst", { follow: true }))).toBeUndefined();
    expect(tenantComposeUpProject(["docker", "ps"])).toBeUndefined();
    // the proxy is shared with other btw states (their locks are not ours): never stopped
    expect(tenantComposeUpProject(proxyComposeUp({ wait: true }))).toBeUndefined();
    expect(() => stopStrayComposeUp("btw-x; reboot")).toThrow(/not a Compose project/);
  });

  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
  });
  /** A process whose command line reads like `docker compose -p <project> … <rest>` (argv[0] set by bash's exec -a). */
  const pretend = (project: string, rest: string): ChildProcess => {
    const c = spawn("bash", ["-c", `exec -a "docker compose -p ${project} --project-directory /opt/btw/tenants/x ${rest}" sleep 60`], { stdio: "ignore" });
    children.push(c);
    return c;
  };
  const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  /** Until each pretender has exec'd into its `docker compose …` command line (bash may be slow to get there on a loaded machine). */
  const execed = async (...cs: ChildProcess[]) => {
    const deadline = Date.now() + 8_000;
    const ready = (c: ChildProcess) => {
      try {
        return readFileSync(`/proc/${c.pid}/cmdline`, "utf8").startsWith("docker compose -p ");
      } catch {
        return false;
      }
    };
    while (!cs.every(ready)) {
      if (Date.now() > deadline) throw new Error("the pretend processes did not exec within 8 s");
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it("ends the project's up and nothing else: not another project's whose name it prefixes, not its logs -f (real processes, real pkill)", async () => {
    const stray = pretend("btw-ds", "up -d --wait");
    const other = pretend("btw-ds-rst", "up -d --wait");
    const logs = pretend("btw-ds", "logs --no-color -f");
    await execed(stray, other, logs);
    const gone = new Promise((r) => stray.once("exit", r));
    const [cmd, ...args] = stopStrayComposeUp("btw-ds");
    const script = spawn(cmd!, args, { stdio: "inherit" });
    expect(await new Promise((r) => script.once("exit", r))).toBe(0);
    await gone;
    expect(stray.signalCode).toBe("SIGTERM");
    expect(alive(other)).toBe(true);
    expect(alive(logs)).toBe(true);
  });

  it("exits 0 when there is nothing to end", async () => {
    const [cmd, ...args] = stopStrayComposeUp("btw-nothing-here");
    const script = spawn(cmd!, args, { stdio: "inherit" });
    expect(await new Promise((r) => script.once("exit", r))).toBe(0);
  });
});

describe("Host.run", () => {
  /** A stand-in for the SSH client at Host's boundary: records argv, answers exit 0. */
  const recording = (): { ssh: SshClient; calls: string[][] } => {
    const calls: string[][] = [];
    const ssh = { run: async (argv: readonly string[], _o: RunOptions = {}): Promise<SshResult> => (calls.push([...argv]), { stdout: "", stderr: "", exitCode: 0 }) } as unknown as SshClient;
    return { ssh, calls };
  };
  it("ends a stray up of the project before its own up; other commands go as they are", async () => {
    const { ssh, calls } = recording();
    const host = new Host("lab-1", ssh);
    const up = composeUp("ds-rst", { profiles: [], wait: 300 });
    await host.run(up);
    await host.run(["docker", "ps"]);
    expect(calls).toEqual([stopStrayComposeUp("btw-ds-rst"), up, ["docker", "ps"]]);
  });
});
