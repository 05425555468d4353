import { describe, expect, it } from "vitest";
import { fingerprintOf, parseKnownHosts, renderKnownHosts } from "../../../src/core/server/host-keys.js";
import { sshArgs } from "../../../src/core/commands/ssh.js";

const ED = "AAAAC3NzaC1lZDI1NTE5AAAAIGg0tu0bdQ0SGS8HDlXw9v6aNFGr+6PU1Dtk0q3Vx1yB";

describe("host keys", () => {
  it("parses keyscan/known_hosts lines for exactly host:port, skipping hashed, marked and foreign entries", () => {
    const text = [
      "# 10.0.0.1:22 SSH-2.0-OpenSSH_9.2",
      `10.0.0.1 ssh-ed25519 ${ED}`,
      `[10.0.0.1]:2222 ssh-rsa AAAAB3NzaC1yc2E=`,
      `other,10.0.0.1 ecdsa-sha2-nistp256 AAAAE2VjZHNh`,
      `|1|abc=|def= ssh-ed25519 ${ED}`,
      `@revoked 10.0.0.1 ssh-ed25519 ${ED}`,
      `10.0.0.1 ssh-ed25519 ${ED}`,
    ].join("\n");
    expect(parseKnownHosts(text, "10.0.0.1", 22)).toEqual([
      { type: "ssh-ed25519", key: ED },
      { type: "ecdsa-sha2-nistp256", key: "AAAAE2VjZHNh" },
    ]);
    expect(parseKnownHosts(text, "10.0.0.1", 2222)).toEqual([{ type: "ssh-rsa", key: "AAAAB3NzaC1yc2E=" }]);
  });

  it("fingerprints like ssh-keygen -l -E sha256 (unpadded base64 of the blob's sha256)", () => {
    expect(fingerprintOf(ED)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprintOf(ED)).toBe(fingerprintOf(ED));
  });

  it("renders one sorted line per pin, with OpenSSH's [host]:port form off port 22", () => {
    expect(renderKnownHosts([{ host: "b", port: 2222, type: "ssh-ed25519", key: ED }, { host: "a", port: 22, type: "ssh-ed25519", key: ED }])).toBe(
      `[b]:2222 ssh-ed25519 ${ED}\na ssh-ed25519 ${ED}\n`,
    );
  });

  it("ssh refuses unknown keys when the file is rendered from the state", () => {
    const base = { knownHostsFile: "/k", controlPath: "/c" };
    const target = { host: "h", port: 22, user: "root" };
    expect(sshArgs(target, { ...base, strictHostKeys: true })).toContain("StrictHostKeyChecking=yes");
    expect(sshArgs(target, base)).toContain("StrictHostKeyChecking=accept-new");
  });
});
