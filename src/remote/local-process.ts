// Local processes: btw's own commands run as children by `schedule run` (their exit code and
// report are the job's), and the operator host's `crontab`. Bounded like every wait.

import { execa } from "execa";

export interface LocalResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runLocal(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs: number },
): Promise<LocalResult> {
  const r = await execa(command, [...args], {
    reject: false,
    input: opts.input ?? "",
    timeout: opts.timeoutMs,
    ...(opts.env ? { env: opts.env, extendEnv: false } : {}),
    stripFinalNewline: false,
  });
  if (r.failed && r.exitCode === undefined) {
    throw new Error(`${command}: ${r.timedOut ? `no end within ${opts.timeoutMs} ms` : (r.originalMessage ?? "could not run")}`);
  }
  return { code: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
