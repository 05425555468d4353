// `btw server bootstrap`: the argv that runs templates/cloud-init/bootstrap.sh on a host
// (the script itself travels on stdin) and the parser of what it reports. Pure.

import { OperationError } from "../../errors.js";

export interface BootstrapSettings {
  insecureRegistries: readonly string[];
  logMaxSize: string;
  logMaxFiles: number;
}

/** The script's own arguments, from the config's `bootstrap` section. */
export function bootstrapScriptArgs(s: BootstrapSettings): string[] {
  return [
    ...s.insecureRegistries.flatMap((r) => ["--insecure-registry", r]),
    "--log-max-size",
    s.logMaxSize,
    "--log-max-file",
    String(s.logMaxFiles),
  ];
}

/** `sh -s -- <args>` reading the script from stdin; through `sudo -n` for a non-root user. */
export function bootstrapCommand(sshUser: string, args: readonly string[]): string[] {
  const sh = ["sh", "-s", "--", ...args];
  return sshUser === "root" ? sh : ["sudo", "-n", ...sh];
}

export type StepStatus = "ok" | "changed" | "skipped";

export interface BootstrapStep {
  step: string;
  status: StepStatus;
  detail: string;
}

export interface BootstrapReport {
  steps: BootstrapStep[];
  /** names of the steps that changed something */
  changed: string[];
  /** the script's own reason, when it stopped with `btw-fail` */
  failure: string | null;
  /** true when the script reached its last line */
  done: boolean;
}

/** Reads the script's `btw-step` / `btw-done` / `btw-fail` lines; other lines are ignored. */
export function parseBootstrapOutput(stdout: string): BootstrapReport {
  const steps: BootstrapStep[] = [];
  let failure: string | null = null;
  let done = false;
  for (const line of stdout.split("\n")) {
    const m = /^btw-step (\S+) (ok|changed|skipped)(?: (.*))?$/.exec(line.trim());
    if (m) steps.push({ step: m[1]!, status: m[2] as StepStatus, detail: m[3] ?? "" });
    else if (line.startsWith("btw-fail ")) failure = line.slice("btw-fail ".length).trim();
    else if (/^btw-done changed=\d+$/.test(line.trim())) done = true;
  }
  return { steps, changed: steps.filter((s) => s.status === "changed").map((s) => s.step), failure, done };
}

/** The report of a finished run, or the error that says why the host is not bootstrapped. */
export function requireBootstrapped(server: string, report: BootstrapReport, exitCode: number, stderr: string): BootstrapReport {
  if (report.failure !== null) {
    throw new OperationError(`bootstrap of ${server} failed: ${report.failure}`, {
      code: "bootstrap-failed",
      hint: `the package manager's output is in /var/log/btw-bootstrap.log on ${server}; fix the cause and re-run \`btw server bootstrap ${server}\``,
    });
  }
  if (exitCode !== 0 || !report.done) {
    const last = stderr.trim().split("\n").pop()?.trim() ?? "";
    throw new OperationError(`bootstrap of ${server} stopped (exit ${exitCode})${last ? `: ${last.slice(0, 200)}` : ""}`, {
      code: "bootstrap-failed",
      hint: `see /var/log/btw-bootstrap.log on ${server}, then re-run \`btw server bootstrap ${server}\``,
    });
  }
  return report;
}

/** "true" on stdout when the container runs (exit 1 when it does not exist). */
export function containerRunning(name: string): string[] {
  return ["docker", "inspect", "--format", "{{.State.Running}}", name];
}

/**
 * Blocks until cloud-init has finished the first boot. Exit 0: done; 1: an error; 2:
 * done with recoverable errors (cloud-init ≥ 23.4). A host without cloud-init answers 127.
 */
export function cloudInitWait(sshUser: string): string[] {
  const argv = ["cloud-init", "status", "--wait"];
  return sshUser === "root" ? argv : ["sudo", "-n", ...argv];
}

export type FirstBoot = "done" | "done-with-errors" | "no-cloud-init";

export function firstBootOutcome(exitCode: number): FirstBoot {
  if (exitCode === 0) return "done";
  if (exitCode === 127) return "no-cloud-init";
  return "done-with-errors";
}
