// The local `ssh` command line. Pure: the client in src/remote/ssh.ts adds the program name
// and the remote command (shellJoin(argv)) and runs it.

import { createHash } from "node:crypto";
import { UsageError } from "../../errors.js";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
}

export interface SshArgsOptions {
  /** btw-managed known_hosts: first contact pins the key, a changed key refuses */
  knownHostsFile: string;
  /** the file is rendered from pins in the state: accept no key that is not in it */
  strictHostKeys?: boolean;
  /** the ControlMaster socket, see controlPathFor */
  controlPath: string;
  identityFile?: string;
  connectTimeoutSec?: number;
  serverAliveIntervalSec?: number;
  controlPersistSec?: number;
}

export const SSH_DEFAULTS = { connectTimeoutSec: 10, serverAliveIntervalSec: 15, controlPersistSec: 60 } as const;

// sun_path is 104 bytes on macOS, 108 on Linux, and ssh binds "<ControlPath>.<16 random>"
// before renaming it into place.
export const MAX_CONTROL_PATH = 86;

/** Options, `-p`, `-l`, `--`, host: everything between `ssh` and the remote command. */
export function sshArgs(target: SshTarget, opts: SshArgsOptions): string[] {
  checkTarget(target);
  const o = (kv: string) => ["-o", kv];
  return [
    ...o("BatchMode=yes"),
    ...o(`ConnectTimeout=${opts.connectTimeoutSec ?? SSH_DEFAULTS.connectTimeoutSec}`),
    ...o(`ServerAliveInterval=${opts.serverAliveIntervalSec ?? SSH_DEFAULTS.serverAliveIntervalSec}`),
    ...o("ServerAliveCountMax=3"),
    ...o(`UserKnownHostsFile=${opts.knownHostsFile}`),
    ...o(`StrictHostKeyChecking=${opts.strictHostKeys ? "yes" : "accept-new"}`),
    // One entry per host:port, readable by `btw server trust`; no second entry per IP.
    ...o("HashKnownHosts=no"),
    ...o("CheckHostIP=no"),
    ...o("ControlMaster=auto"),
    ...o(`ControlPath=${opts.controlPath.replaceAll("%", "%%")}`),
    ...o(`ControlPersist=${opts.controlPersistSec ?? SSH_DEFAULTS.controlPersistSec}s`),
    // Forwarded unix sockets: replace a stale socket file instead of failing.
    ...o("StreamLocalBindUnlink=yes"),
    // A tenant host never gets the operator's agent or display, whatever ~/.ssh/config says.
    ...o("ForwardAgent=no"),
    ...o("ForwardX11=no"),
    // Errors only: no "Permanently added …" chatter in stderr we parse and show.
    ...o("LogLevel=ERROR"),
    ...(opts.identityFile === undefined ? [] : [...o("IdentitiesOnly=yes"), "-i", opts.identityFile]),
    "-p",
    String(target.port),
    "-l",
    target.user,
    "--",
    target.host,
  ];
}

export type SshControlCommand = "check" | "exit" | "stop";

/** `ssh -O <command>` against the target's master. */
export function sshControlArgs(target: SshTarget, opts: SshArgsOptions, command: SshControlCommand): string[] {
  return ["-O", command, ...sshArgs(target, opts)];
}

/** `ssh -O forward|cancel -L <spec>`: add or remove a forwarding on the running master. */
export function sshForwardArgs(
  target: SshTarget,
  opts: SshArgsOptions,
  action: "forward" | "cancel",
  localForwardSpec: string,
): string[] {
  return ["-O", action, "-L", localForwardSpec, ...sshArgs(target, opts)];
}

/** `-L` spec for a local unix socket forwarded to a remote unix socket. */
export function unixForwardSpec(localPath: string, remotePath: string): string {
  for (const p of [localPath, remotePath]) {
    if (!p.startsWith("/") || p.includes(":") || /\s/.test(p)) {
      throw new UsageError(`cannot forward socket path '${p}': must be absolute, without ':' or spaces`, {
        code: "invalid-forward",
      });
    }
  }
  return `${localPath}:${remotePath}`;
}

/** `-L` spec for 127.0.0.1:<localPort> forwarded to <remoteHost>:<remotePort> as seen from the server. */
export function tcpForwardSpec(localPort: number, remoteHost: string, remotePort: number): string {
  checkPort(localPort);
  checkPort(remotePort);
  if (remoteHost === "" || /[\s/[\]]/.test(remoteHost)) {
    throw new UsageError(`cannot forward to host '${remoteHost}'`, { code: "invalid-forward" });
  }
  const host = remoteHost.includes(":") ? `[${remoteHost}]` : remoteHost;
  return `127.0.0.1:${localPort}:${host}:${remotePort}`;
}

/**
 * The ControlMaster socket for a target. The name hashes everything that decides whom we
 * trust and how we log in: two clients share a master only if they would have made the
 * same connection (a master skips host-key and key checks for the clients it serves).
 */
export function controlPathFor(
  controlDir: string,
  target: SshTarget,
  auth: { identityFile?: string; knownHostsFile: string },
): string {
  const id = createHash("sha256")
    .update(JSON.stringify([target.user, target.host, target.port, auth.identityFile ?? null, auth.knownHostsFile]))
    .digest("hex")
    .slice(0, 20);
  const path = `${controlDir.replace(/\/+$/, "")}/${id}`;
  if (Buffer.byteLength(path) > MAX_CONTROL_PATH || /\s/.test(path)) {
    throw new UsageError(
      `ssh control path '${path}' is too long or has spaces (max ${MAX_CONTROL_PATH} bytes)`,
      { code: "ssh-control-path", hint: "use a short control directory such as /tmp/btw-<uid>/cm" },
    );
  }
  return path;
}

function checkTarget(t: SshTarget): void {
  if (t.host === "" || t.host.startsWith("-") || /[\s@]/.test(t.host)) {
    throw new UsageError(`invalid SSH host '${t.host}'`, { code: "invalid-ssh-target" });
  }
  if (t.user === "" || t.user.startsWith("-") || /[\s@:]/.test(t.user)) {
    throw new UsageError(`invalid SSH user '${t.user}'`, { code: "invalid-ssh-target" });
  }
  checkPort(t.port);
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`invalid port ${port}: expected 1-65535`, { code: "invalid-ssh-target" });
  }
}
