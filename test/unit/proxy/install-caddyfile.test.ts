// The one install path of a rendered Caddyfile, shared by tenant servers and edge proxies:
// candidate → validate → live file → graceful reload; a candidate Caddy rejects never
// replaces the live file. Driven through a Host whose SSH client only records.
import { describe, expect, it } from "vitest";
import { installCaddyfile } from "../../../src/ops/proxy.js";
import { Host } from "../../../src/ops/host.js";
import type { SshClient, SshResult } from "../../../src/remote/ssh.js";

function recordingHost(validateExit: number): { host: Host; calls: Array<{ argv: string[]; input?: string }> } {
  const calls: Array<{ argv: string[]; input?: string }> = [];
  const ssh = {
    run: async (argv: readonly string[], opts: { input?: string } = {}): Promise<SshResult> => {
      calls.push({ argv: [...argv], ...(opts.input !== undefined ? { input: opts.input } : {}) });
      const validating = argv.includes("validate");
      return { stdout: "", stderr: validating && validateExit ? "Error: adapting config using caddyfile: unknown directive" : "", exitCode: validating ? validateExit : 0 };
    },
  } as unknown as SshClient;
  return { host: new Host("btw-edge-1", ssh), calls };
}

const written = (calls: Array<{ argv: string[]; input?: string }>) => calls.filter((c) => c.input !== undefined).map((c) => c.argv.find((a) => a.startsWith("/opt/btw/proxy/conf/")));

describe("installCaddyfile", () => {
  it("writes the candidate, validates it in the proxy container, then replaces the live file and reloads", async () => {
    const { host, calls } = recordingHost(0);
    await installCaddyfile(host, "btw-edge-1", "# edge\n");
    expect(written(calls)).toEqual(["/opt/btw/proxy/conf/Caddyfile.next", "/opt/btw/proxy/conf/Caddyfile"]);
    const docker = calls.filter((c) => c.argv[0] === "docker").map((c) => c.argv.slice(0, 5).join(" "));
    expect(docker).toEqual(["docker exec btw-proxy caddy validate", "docker exec btw-proxy caddy reload"]);
    expect(calls.map((c) => (c.input !== undefined ? "write" : c.argv[4]))).toEqual(["write", "validate", "write", "reload"]);
  });

  it("a candidate Caddy rejects leaves the live file and the running routes alone", async () => {
    const { host, calls } = recordingHost(1);
    await expect(installCaddyfile(host, "btw-edge-1", "broken {\n")).rejects.toThrow(/the rendered Caddyfile for btw-edge-1 does not validate: Error: adapting config/);
    expect(written(calls)).toEqual(["/opt/btw/proxy/conf/Caddyfile.next"]);
    expect(calls.some((c) => c.argv.includes("reload"))).toBe(false);
  });
});
