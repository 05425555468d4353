import { describe, expect, it } from "vitest";
import {
  controlPathFor,
  sshArgs,
  sshControlArgs,
  sshForwardArgs,
  tcpForwardSpec,
  unixForwardSpec,
} from "../../../../src/core/commands/ssh.js";

const target = { host: "10.0.0.5", port: 22, user: "root" };
const opts = { knownHostsFile: "/home/op/.btw/known_hosts", controlPath: "/tmp/btw-1000/cm/0123456789abcdef0123" };

const COMMON = [
  "-o", "BatchMode=yes",
  "-o", "ConnectTimeout=10",
  "-o", "ServerAliveInterval=15",
  "-o", "ServerAliveCountMax=3",
  "-o", "UserKnownHostsFile=/home/op/.btw/known_hosts",
  "-o", "StrictHostKeyChecking=accept-new",
  "-o", "HashKnownHosts=no",
  "-o", "CheckHostIP=no",
  "-o", "ControlMaster=auto",
  "-o", "ControlPath=/tmp/btw-1000/cm/0123456789abcdef0123",
  "-o", "ControlPersist=60s",
  "-o", "StreamLocalBindUnlink=yes",
  "-o", "ForwardAgent=no",
  "-o", "ForwardX11=no",
  "-o", "LogLevel=ERROR",
];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("sshArgs", () => {
  it("builds the batch, pinning and multiplexing options, then -p -l -- host", () => {
    expect(sshArgs(target, opts)).toEqual([...COMMON, "-p", "22", "-l", "root", "--", "10.0.0.5"]);
  });

  it("adds IdentitiesOnly and -i only when an identity file is given", () => {
    expect(sshArgs({ ...target, port: 2222 }, { ...opts, identityFile: "/home/op/.ssh/btw_ed25519" })).toEqual([
      ...COMMON,
      "-o", "IdentitiesOnly=yes",
      "-i", "/home/op/.ssh/btw_ed25519",
      "-p", "2222", "-l", "root", "--", "10.0.0.5",
    ]);
  });

  it("honours timeouts and persistence", () => {
    const args = sshArgs(target, { ...opts, connectTimeoutSec: 3, serverAliveIntervalSec: 5, controlPersistSec: 10 });
    expect(args).toContain("ConnectTimeout=3");
    expect(args).toContain("ServerAliveInterval=5");
    expect(args).toContain("ControlPersist=10s");
  });

  it("escapes % in the control path (ssh expands %-tokens there)", () => {
    expect(sshArgs(target, { ...opts, controlPath: "/tmp/100%/cm/x" })).toContain("ControlPath=/tmp/100%%/cm/x");
  });

  it.each([
    [{ ...target, host: "-oProxyCommand=id" }],
    [{ ...target, host: "" }],
    [{ ...target, host: "a b" }],
    [{ ...target, host: "root@h" }],
    [{ ...target, user: "-x" }],
    [{ ...target, user: "" }],
    [{ ...target, port: 0 }],
    [{ ...target, port: 70000 }],
    [{ ...target, port: 22.5 }],
  ])("refuses the target %j", (t) => {
    expect(codeOf(() => sshArgs(t, opts))).toBe("invalid-ssh-target");
  });
});

describe("control and forwarding", () => {
  it("puts -O <command> before the connection options", () => {
    expect(sshControlArgs(target, opts, "check")).toEqual(["-O", "check", ...sshArgs(target, opts)]);
    expect(sshControlArgs(target, opts, "exit")).toEqual(["-O", "exit", ...sshArgs(target, opts)]);
  });

  it("adds and cancels a forwarding on the master", () => {
    expect(sshForwardArgs(target, opts, "forward", "/tmp/a.sock:/var/run/docker.sock")).toEqual([
      "-O", "forward", "-L", "/tmp/a.sock:/var/run/docker.sock", ...sshArgs(target, opts),
    ]);
    expect(sshForwardArgs(target, opts, "cancel", "x")[1]).toBe("cancel");
  });

  it("builds unix and tcp -L specs bound to loopback", () => {
    expect(unixForwardSpec("/tmp/btw-0/cm/f.sock", "/var/run/docker.sock")).toBe("/tmp/btw-0/cm/f.sock:/var/run/docker.sock");
    expect(tcpForwardSpec(40000, "127.0.0.1", 5678)).toBe("127.0.0.1:40000:127.0.0.1:5678");
    expect(tcpForwardSpec(40000, "::1", 5678)).toBe("127.0.0.1:40000:[::1]:5678");
  });

  it.each([
    () => unixForwardSpec("rel.sock", "/var/run/docker.sock"),
    () => unixForwardSpec("/tmp/a:b.sock", "/x"),
    () => tcpForwardSpec(0, "127.0.0.1", 80),
    () => tcpForwardSpec(1000, "", 80),
    () => tcpForwardSpec(1000, "a b", 80),
  ])("refuses a bad forward (%#)", (fn) => {
    expect(codeOf(fn)).toMatch(/^invalid-(forward|ssh-target)$/);
  });
});

describe("controlPathFor", () => {
  const auth = { knownHostsFile: "/k" };

  it("is short, stable and under the control dir", () => {
    const p = controlPathFor("/tmp/btw-0/cm", target, auth);
    expect(p).toMatch(/^\/tmp\/btw-0\/cm\/[0-9a-f]{20}$/);
    expect(controlPathFor("/tmp/btw-0/cm/", target, auth)).toBe(p);
  });

  it("differs when the identity, known_hosts, user, host or port differ", () => {
    const base = controlPathFor("/d", target, auth);
    expect(controlPathFor("/d", target, { ...auth, identityFile: "/id" })).not.toBe(base);
    expect(controlPathFor("/d", target, { knownHostsFile: "/other" })).not.toBe(base);
    expect(controlPathFor("/d", { ...target, user: "deploy" }, auth)).not.toBe(base);
    expect(controlPathFor("/d", { ...target, host: "10.0.0.6" }, auth)).not.toBe(base);
    expect(controlPathFor("/d", { ...target, port: 2222 }, auth)).not.toBe(base);
  });

  it("refuses a control dir that would overflow a unix socket path", () => {
    expect(codeOf(() => controlPathFor(`/tmp/${"x".repeat(80)}`, target, auth))).toBe("ssh-control-path");
  });
});
