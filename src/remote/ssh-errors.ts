// Turn an ssh exit status and stderr into one clear error with a next step. Pure: no I/O.
// Messages carry the server name, address, the command's first words and ssh's or the
// remote program's last stderr line — never stdin, environment values or whole argv.

import { OperationError } from "../errors.js";

export interface SshErrorContext {
  /** the server's name in btw (`lab-1`) */
  server: string;
  host: string;
  port: number;
  user: string;
  identityFile?: string;
}

const UNREACHABLE: ReadonlyArray<[RegExp, string]> = [
  [/Connection refused/i, "connection refused"],
  [/timed out/i, "connection timed out"],
  [/Could not resolve hostname|Name or service not known|nodename nor servname|Temporary failure in name resolution/i, "name not resolved"],
  [/No route to host/i, "no route to host"],
  [/Network is unreachable/i, "network unreachable"],
  [/kex_exchange_identification|Connection (closed|reset) by .*port|Connection reset by peer/i, "connection closed during the SSH handshake"],
];

/** The last non-empty line, trimmed and capped — enough to say what went wrong. */
export function lastLine(text: string, max = 200): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  const line = lines.at(-1) ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A command's first words for messages: `docker compose`, `sh -c`, `rm` — no values. */
export function describeArgv(argv: readonly string[]): string {
  const [first, ...rest] = argv;
  if (first === undefined) return "(empty)";
  const words = [first];
  for (const w of rest) {
    if (words.length >= 3 || !/^[a-z][a-z0-9._-]*$/.test(w) || w.length > 30) break;
    words.push(w);
  }
  if (words.length === 1 && (first === "sh" || first === "bash") && rest[0] === "-c") words.push("-c");
  return words.join(" ");
}

function address(ctx: SshErrorContext): string {
  return `${ctx.host}:${ctx.port}`;
}

/**
 * Classify an ssh exit 255 (ssh's own failure). Host-key and auth failures are recognised
 * first because their stderr can also mention the connection.
 */
export function sshConnectionError(ctx: SshErrorContext, stderr: string): OperationError {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|Host key for .* has changed/.test(stderr)) {
    const presented = /key sent by the remote host is\s*\n?\s*(SHA256:[A-Za-z0-9+/=]+?)\.?\s*$/m.exec(stderr)?.[1];
    return new OperationError(`host key of server '${ctx.server}' at ${address(ctx)} has changed: refusing to connect`, {
      code: "ssh-host-key-changed",
      hint: `if the server was rebuilt or its key rotated, check the new key, then re-pin it: btw server trust ${ctx.server}`,
      details: { server: ctx.server, host: ctx.host, port: ctx.port, ...(presented ? { presentedFingerprint: presented } : {}) },
    });
  }
  if (/Permission denied \(|Too many authentication failures|no mutual signature algorithm/i.test(stderr)) {
    const key = ctx.identityFile === undefined ? "the keys in your ssh-agent / ~/.ssh/config" : `the key ${ctx.identityFile}`;
    return new OperationError(`server '${ctx.server}' at ${address(ctx)} refused SSH login as '${ctx.user}' with ${key}`, {
      code: "ssh-auth",
      hint:
        `load the right key into ssh-agent (ssh-add <file>) or give it with --ssh-key <file>, and make sure its ` +
        `public key is in ~${ctx.user}/.ssh/authorized_keys on the server; then: btw server check ${ctx.server}`,
      details: { server: ctx.server, host: ctx.host, port: ctx.port, user: ctx.user },
    });
  }
  for (const [pattern, reason] of UNREACHABLE) {
    if (pattern.test(stderr)) {
      return new OperationError(`cannot reach server '${ctx.server}' at ${address(ctx)}: ${reason}`, {
        code: "ssh-unreachable",
        hint: `check the server's address, SSH port and firewall, then: btw server check ${ctx.server}`,
        details: { server: ctx.server, host: ctx.host, port: ctx.port, reason },
      });
    }
  }
  const line = lastLine(stderr);
  return new OperationError(`ssh to server '${ctx.server}' at ${address(ctx)} failed${line ? `: ${line}` : " (exit 255)"}`, {
    code: "ssh-failed",
    hint: `run: btw server check ${ctx.server}`,
    details: { server: ctx.server, host: ctx.host, port: ctx.port },
  });
}

/** The remote command ran and exited non-zero. */
export function remoteCommandError(
  ctx: SshErrorContext,
  argv: readonly string[],
  exitCode: number,
  stderr: string,
): OperationError {
  const line = lastLine(stderr);
  const what = describeArgv(argv);
  return new OperationError(
    `remote command '${what}' failed on server '${ctx.server}' (exit ${exitCode})${line ? `: ${line}` : ""}`,
    { code: "remote-command", details: { server: ctx.server, command: what, exitCode } },
  );
}

export function remoteTimeoutError(ctx: SshErrorContext, argv: readonly string[], timeoutMs: number): OperationError {
  const what = describeArgv(argv);
  return new OperationError(`remote command '${what}' on server '${ctx.server}' timed out after ${timeoutMs} ms`, {
    code: "remote-timeout",
    hint: `the command may still be running on the server; check it with: btw server check ${ctx.server}`,
    details: { server: ctx.server, command: what, timeoutMs },
  });
}

export function sshMissingError(cause: unknown): OperationError {
  return new OperationError("the OpenSSH client 'ssh' was not found on this machine", {
    code: "ssh-missing",
    hint: "install OpenSSH (Debian/Ubuntu: apt-get install openssh-client; macOS ships it)",
    cause,
  });
}
