// installIsolation over a Host whose SSH client only records: the script is written and
// applied on every run; the unit is installed and enabled only under systemd; "changed" only
// when the rules differ from what the host has; a failed apply is one clear error.
import { describe, expect, it } from "vitest";
import { isolationScript, type IsolationInput } from "../../../src/core/server/isolation.js";
import { Host } from "../../../src/ops/host.js";
import { installIsolation } from "../../../src/ops/server/isolation.js";
import type { SshClient, SshResult } from "../../../src/remote/ssh.js";

const input: IsolationInput = { tenantSources: ["10.220.0.0/16"], privateRanges: ["10.0.0.0/16"], otherServers: ["203.0.113.12"] };

function recordingHost(opts: { current?: string; systemd: boolean; applyExit?: number }) {
  const calls: Array<{ argv: string[]; input?: string }> = [];
  const ssh = {
    run: async (argv: readonly string[], o: { input?: string } = {}): Promise<SshResult> => {
      calls.push({ argv: [...argv], ...(o.input !== undefined ? { input: o.input } : {}) });
      if (argv[0] === "cat") return opts.current === undefined ? { stdout: "", stderr: "No such file", exitCode: 1 } : { stdout: opts.current, stderr: "", exitCode: 0 };
      if (argv[0] === "test") return { stdout: "", stderr: "", exitCode: opts.systemd ? 0 : 1 };
      if (argv[0] === "sh") return { stdout: "btw-isolation applied\n", stderr: opts.applyExit ? "iptables-restore: line 5 failed" : "", exitCode: opts.applyExit ?? 0 };
      return { stdout: "", stderr: "", exitCode: 0 };
    },
  } as unknown as SshClient;
  return { host: new Host("btw-1", ssh), calls };
}

const files = (calls: Array<{ argv: string[]; input?: string }>) => calls.filter((c) => c.input !== undefined).map((c) => c.argv.find((a) => a.startsWith("/opt/") || a.startsWith("/etc/")));

describe("installIsolation", () => {
  it("a new host under systemd: script and unit written, unit enabled, rules applied; changed", async () => {
    const { host, calls } = recordingHost({ systemd: true });
    expect(await installIsolation(host, input)).toEqual({ changed: true, persistent: true });
    expect(files(calls)).toEqual(["/opt/btw/isolation/apply.sh", "/etc/systemd/system/btw-isolation.service"]);
    expect(calls.find((c) => c.input?.startsWith("#!/bin/sh"))?.input).toBe(isolationScript(input));
    const commands = calls.filter((c) => c.input === undefined && ["systemctl", "sh"].includes(c.argv[0]!)).map((c) => c.argv.join(" "));
    expect(commands).toEqual(["systemctl daemon-reload", "systemctl enable btw-isolation.service", "sh /opt/btw/isolation/apply.sh"]);
  });

  it("the same rules again: applied again (a flushed ruleset comes back), not reported as a change", async () => {
    const { host, calls } = recordingHost({ systemd: true, current: isolationScript(input) });
    expect(await installIsolation(host, input)).toEqual({ changed: false, persistent: true });
    expect(calls.some((c) => c.argv.join(" ") === "sh /opt/btw/isolation/apply.sh")).toBe(true);
  });

  it("without systemd (the lab's servers): applied now, no unit, not persistent", async () => {
    const { host, calls } = recordingHost({ systemd: false });
    expect(await installIsolation(host, input)).toEqual({ changed: true, persistent: false });
    expect(files(calls)).toEqual(["/opt/btw/isolation/apply.sh"]);
    expect(calls.some((c) => c.argv[0] === "systemctl")).toBe(false);
  });

  it("a failed apply is an error naming the host and iptables' own last line", async () => {
    const { host } = recordingHost({ systemd: true, applyExit: 1 });
    await expect(installIsolation(host, input)).rejects.toThrow("cannot apply the tenant isolation rules on btw-1: iptables-restore: line 5 failed");
  });
});
