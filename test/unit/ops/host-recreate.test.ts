// CI of stop 31: a restore killed while `compose up` recreated the runner left the runner's
// successor under Compose's temporary name, and the rollback's `up` failed on it. Host.run
// removes such a leftover and runs `up` again; nothing else is retried.
import { describe, expect, it } from "vitest";
import { composeDown, composeProjectOf, composeUp, dockerRemoveContainer, interruptedRecreate, isComposeUp } from "../../../src/core/commands/compose.js";
import { OperationError } from "../../../src/errors.js";
import { Host } from "../../../src/ops/host.js";
import type { RunOptions, SshClient, SshResult } from "../../../src/remote/ssh.js";

const LEFTOVER = "9765d064ade4a53c38463e436abdda2b6dc251f3ce47eaef5fa58b868ff46599";
// what Compose 2 printed in CI (one line of stderr)
const CONFLICT = `Error response from daemon: Conflict. The container name "/80228cd61ec3_btw-ds-rst-runner" is already in use by container "${LEFTOVER}". You have to remove (or rename) that container to be able to reuse that name.`;

describe("interruptedRecreate", () => {
  const up = composeUp("ds-rst", { profiles: [], wait: 300 });
  it("names the leftover of the project's own interrupted recreate", () => {
    expect(isComposeUp(up)).toBe(true);
    expect(interruptedRecreate(up, ` Container btw-ds-rst-runner  Recreate\n${CONFLICT}\n`)).toEqual({ id: LEFTOVER, project: "btw-ds-rst" });
  });
  it("leaves other conflicts alone: another project's container, a name without the temporary prefix, another error", () => {
    expect(interruptedRecreate(composeUp("dsr", { profiles: [] }), CONFLICT)).toBeUndefined();
    expect(interruptedRecreate(up, CONFLICT.replace("/80228cd61ec3_btw-ds-rst-runner", "/btw-ds-rst-runner"))).toBeUndefined();
    expect(interruptedRecreate(up, "Error response from daemon: No such image: n8nio/n8n:1.0")).toBeUndefined();
    expect(isComposeUp(composeDown("ds-rst", { volumes: false }))).toBe(false);
  });
  it("removes only a container id", () => {
    expect(dockerRemoveContainer(LEFTOVER)).toEqual(["docker", "rm", "--force", LEFTOVER]);
    expect(() => dockerRemoveContainer("btw-ds-rst-runner; rm -rf /")).toThrow(/not a container id/);
    expect(composeProjectOf(LEFTOVER).at(-1)).toBe(LEFTOVER);
  });
});

/** A stand-in for the SSH client at Host's boundary: answers from a script, records argv. */
function scripted(answers: SshResult[]): { ssh: SshClient; calls: string[][] } {
  const calls: string[][] = [];
  const ssh = {
    run: async (argv: readonly string[], opts: RunOptions = {}) => {
      calls.push([...argv]);
      const r = answers.shift() ?? { stdout: "", stderr: "", exitCode: 0 };
      if (r.exitCode !== 0 && !opts.allowFailure) throw new OperationError(`failed: ${r.stderr}`, { code: "remote-command" });
      return r;
    },
    failure: (_argv: readonly string[], r: SshResult) => new OperationError(`failed: ${r.stderr}`, { code: "remote-command" }),
  } as unknown as SshClient;
  return { ssh, calls };
}

describe("Host.run and a compose up", () => {
  const up = composeUp("ds-rst", { profiles: [], wait: 300 });
  it("removes the leftover and runs up again", async () => {
    const { ssh, calls } = scripted([{ stdout: "", stderr: CONFLICT, exitCode: 1 }, { stdout: "btw-ds-rst\n", stderr: "", exitCode: 0 }, { stdout: "", stderr: "", exitCode: 0 }, { stdout: "done", stderr: "", exitCode: 0 }]);
    expect((await new Host("lab-1", ssh).run(up)).stdout).toBe("done");
    expect(calls).toEqual([up, composeProjectOf(LEFTOVER), ["docker", "rm", "--force", LEFTOVER], up]);
  });
  it("keeps a container of another project that holds the name (tenant dsx's up, tenant dsx-rst's container)", async () => {
    const upDs = composeUp("dsx", { profiles: [] });
    const conflict = CONFLICT.replace("btw-ds-rst-runner", "btw-dsx-rst-runner");
    const { ssh, calls } = scripted([{ stdout: "", stderr: conflict, exitCode: 1 }, { stdout: "btw-dsx-rst\n", stderr: "", exitCode: 0 }]);
    await expect(new Host("lab-1", ssh).run(upDs)).rejects.toThrow(/Conflict/);
    expect(calls).toEqual([upDs, composeProjectOf(LEFTOVER)]);
  });
  it("any other failure is the caller's: thrown, or returned with allowFailure; up runs once", async () => {
    const other = { stdout: "", stderr: "dependency failed to start: container btw-ds-rst-postgres is unhealthy", exitCode: 1 };
    const a = scripted([other]);
    await expect(new Host("lab-1", a.ssh).run(up)).rejects.toThrow(/unhealthy/);
    expect(a.calls).toEqual([up]);
    const b = scripted([other]);
    expect((await new Host("lab-1", b.ssh).run(up, { allowFailure: true })).exitCode).toBe(1);
    expect(b.calls).toEqual([up]);
  });
  it("does not loop on a leftover that keeps coming back", async () => {
    const answers: SshResult[] = [];
    for (let i = 0; i < 40; i++) answers.push({ stdout: "", stderr: CONFLICT, exitCode: 1 }, { stdout: "btw-ds-rst", stderr: "", exitCode: 0 }, { stdout: "", stderr: "", exitCode: 0 });
    const { ssh, calls } = scripted(answers);
    await expect(new Host("lab-1", ssh).run(up)).rejects.toThrow(/Conflict/);
    expect(calls.filter((c) => c[1] === "rm").length).toBe(8);
  });
});
