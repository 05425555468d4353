// Pure classification of ssh failures (src/remote/ssh-errors.ts): stderr samples as
// OpenSSH 9.x prints them, mapped to one code, one line and a hint.
import { describe, expect, it } from "vitest";
import { describeArgv, lastLine, remoteCommandError, remoteTimeoutError, sshConnectionError } from "../../../src/remote/ssh-errors.js";

const ctx = { server: "lab-1", host: "10.0.0.5", port: 22, user: "root" };

const CHANGED = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:Fz54Mo2akp/rV3nDmfQFZwvSIC+23Rw0hqWQnyGXY2A.
Please contact your system administrator.
Add correct host key in /home/op/.btw/known_hosts to get rid of this message.
Offending ED25519 key in /home/op/.btw/known_hosts:1
  remove with:
  ssh-keygen -f "/home/op/.btw/known_hosts" -R "10.0.0.5"
Host key for 10.0.0.5 has changed and you have requested strict checking.
Host key verification failed.
`;

describe("sshConnectionError", () => {
  it.each([
    ["ssh: connect to host 10.0.0.5 port 22: Connection refused", "connection refused"],
    ["ssh: connect to host 10.0.0.5 port 22: Connection timed out", "connection timed out"],
    ["Connection timed out during banner exchange", "connection timed out"],
    ["ssh: connect to host 10.0.0.5 port 22: Operation timed out", "connection timed out"],
    ["ssh: Could not resolve hostname lab-1.example: Name or service not known", "name not resolved"],
    ["ssh: Could not resolve hostname lab-1.example: Temporary failure in name resolution", "name not resolved"],
    ["ssh: connect to host 10.0.0.5 port 22: No route to host", "no route to host"],
    ["ssh: connect to host 10.0.0.5 port 22: Network is unreachable", "network unreachable"],
    ["kex_exchange_identification: read: Connection reset by peer", "connection closed during the SSH handshake"],
    ["Connection closed by 10.0.0.5 port 22", "connection closed during the SSH handshake"],
  ])("%j → ssh-unreachable (%s)", (stderr, reason) => {
    const err = sshConnectionError(ctx, `${stderr}\n`);
    expect(err.code).toBe("ssh-unreachable");
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe(`cannot reach server 'lab-1' at 10.0.0.5:22: ${reason}`);
    expect(err.hint).toBe("check the server's address, SSH port and firewall, then: btw server check lab-1");
  });

  it("maps a refused key to ssh-auth, naming the agent when no key file is set", () => {
    const err = sshConnectionError(ctx, "root@10.0.0.5: Permission denied (publickey).\n");
    expect(err.code).toBe("ssh-auth");
    expect(err.message).toBe("server 'lab-1' at 10.0.0.5:22 refused SSH login as 'root' with the keys in your ssh-agent / ~/.ssh/config");
    expect(err.hint).toContain("ssh-add");
    expect(err.hint).toContain("--ssh-key");
    expect(err.hint).toContain("~root/.ssh/authorized_keys");
  });

  it("names the key file in ssh-auth when one is set", () => {
    const err = sshConnectionError({ ...ctx, identityFile: "/home/op/.ssh/btw" }, "Permission denied (publickey,password).");
    expect(err.message).toContain("with the key /home/op/.ssh/btw");
  });

  it("maps a changed host key to ssh-host-key-changed with the re-pin command and the presented fingerprint", () => {
    const err = sshConnectionError(ctx, CHANGED);
    expect(err.code).toBe("ssh-host-key-changed");
    expect(err.message).toBe("host key of server 'lab-1' at 10.0.0.5:22 has changed: refusing to connect");
    expect(err.hint).toContain("btw server trust lab-1");
    expect(err.details).toMatchObject({ presentedFingerprint: "SHA256:Fz54Mo2akp/rV3nDmfQFZwvSIC+23Rw0hqWQnyGXY2A" });
  });

  it("maps a bare 'Host key verification failed.' to ssh-host-key-changed", () => {
    expect(sshConnectionError(ctx, "Host key verification failed.\n").code).toBe("ssh-host-key-changed");
  });

  it("keeps anything else as ssh-failed with ssh's last line", () => {
    const err = sshConnectionError(ctx, "command-line line 0: Bad configuration option: foo\n");
    expect(err.code).toBe("ssh-failed");
    expect(err.message).toBe("ssh to server 'lab-1' at 10.0.0.5:22 failed: command-line line 0: Bad configuration option: foo");
    expect(sshConnectionError(ctx, "").message).toBe("ssh to server 'lab-1' at 10.0.0.5:22 failed (exit 255)");
  });
});

describe("remote command errors", () => {
  it("names the first words, the exit code and the last stderr line", () => {
    const err = remoteCommandError(ctx, ["docker", "compose", "-p", "btw-acme", "up", "-d"], 1, "pulling…\nError: no such image\n\n");
    expect(err.code).toBe("remote-command");
    expect(err.message).toBe("remote command 'docker compose' failed on server 'lab-1' (exit 1): Error: no such image");
    expect(err.details).toEqual({ server: "lab-1", command: "docker compose", exitCode: 1 });
  });

  it("omits the colon when stderr is empty", () => {
    expect(remoteCommandError(ctx, ["false"], 1, "").message).toBe("remote command 'false' failed on server 'lab-1' (exit 1)");
  });

  it("says how long a timed-out command ran", () => {
    const err = remoteTimeoutError(ctx, ["docker", "pull", "n8nio/n8n:1.80.0"], 30_000);
    expect(err.code).toBe("remote-timeout");
    expect(err.message).toBe("remote command 'docker pull' on server 'lab-1' timed out after 30000 ms");
  });
});

describe("describeArgv", () => {
  it.each([
    [["docker", "version", "--format", "{{.Server.Version}}"], "docker version"],
    [["docker", "compose", "version", "--short"], "docker compose version"],
    [["rm", "-rf", "--", "/opt/btw/tenants/acme"], "rm"],
    [["mkdir", "-p", "--", "/opt/btw"], "mkdir"],
    [["sh", "-c", "umask 077; cat > \"$1\"", "sh", "/x", "0600"], "sh -c"],
    [["printf", "%s", "PASSWORD=x"], "printf"],
    [[], "(empty)"],
  ])("%j → %s", (argv, words) => {
    expect(describeArgv(argv)).toBe(words);
  });
});

describe("lastLine", () => {
  it("takes the last non-empty line, trimmed, capped at 200 characters", () => {
    expect(lastLine("a\n  b  \n\n")).toBe("b");
    expect(lastLine("")).toBe("");
    expect(lastLine("x".repeat(500))).toHaveLength(200);
  });
});
