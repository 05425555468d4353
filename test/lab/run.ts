import { spawn } from "node:child_process";
import { execa, type Options } from "execa";
import { LabError } from "./errors.js";

// Every external command goes through here: argv arrays only, never a shell string.

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Stream the command's output to our stderr (long builds); otherwise it is captured. */
  stream?: boolean;
  timeoutMs?: number;
}

function execaOptions(opts: RunOptions): Options {
  return {
    input: opts.input,
    env: opts.env,
    cwd: opts.cwd,
    timeout: opts.timeoutMs,
    reject: false,
    stdin: opts.input === undefined ? "ignore" : undefined,
    stdout: opts.stream ? ["pipe", process.stderr] : "pipe",
    stderr: opts.stream ? ["pipe", process.stderr] : "pipe",
  } as Options;
}

export interface RunResult {
  ok: boolean;
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs a command and reports the outcome; never throws for a non-zero exit. */
export async function tryRun(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await execa(cmd, args, execaOptions(opts));
  return {
    ok: r.exitCode === 0 && !r.failed,
    exitCode: r.exitCode,
    stdout: String(r.stdout ?? "").trim(),
    stderr: String(r.stderr ?? "").trim(),
  };
}

/** Runs a command; throws a one-line LabError with the last line of stderr if it fails. */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await tryRun(cmd, args, opts);
  if (!r.ok) {
    const last = lastLine(r.stderr) || lastLine(r.stdout) || `exit code ${r.exitCode ?? "?"}`;
    throw new LabError(`${cmd} ${args.slice(0, 3).join(" ")} failed: ${last}`);
  }
  return r.stdout;
}

/**
 * Starts a daemon (dockerd, the registry) that must outlive us: its own session, its output
 * straight into a log file descriptor. node:child_process rather than execa because execa
 * would pipe the output through this process, and the daemon would get SIGPIPE when we exit.
 */
export function spawnDetached(cmd: string, args: string[], logFd: number): number | undefined {
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", logFd, logFd] });
  child.on("error", () => undefined); // a missing binary shows as "did not come up" instead
  child.unref();
  return child.pid;
}

export function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

export async function commandExists(cmd: string): Promise<boolean> {
  return (await tryRun("sh", ["-c", 'command -v "$1"', "sh", cmd])).ok;
}
