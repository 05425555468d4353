// Runs `terraform` or `tofu` locally: argv and environment come from the pure builders in
// core/infra/terraform.ts; what it prints is redacted before anyone sees it, and a failure
// becomes one typed error (core/infra/terraform-errors.ts).

import { execa } from "execa";
import { classifyTerraformFailure, type FailureContext } from "../core/infra/terraform-errors.js";
import { redact } from "../core/infra/terraform.js";
import { BusyError, ConfigError, OperationError, type BtwError } from "../errors.js";

export interface TerraformRunOptions {
  /** the executable: terraform, tofu, or a path */
  binary: string;
  cwd: string;
  env: Record<string, string>;
  /** values to blank out of every line printed or put in an error */
  secrets: readonly string[];
  /** each output line (stdout and stderr), redacted, as it arrives */
  onLine?: (line: string) => void;
  timeoutMs?: number;
  failure: Omit<FailureContext, "verb">;
}

export interface TerraformResult {
  stdout: string;
  stderr: string;
}

export async function runTerraform(args: readonly string[], opts: TerraformRunOptions): Promise<TerraformResult> {
  const verb = args[0] ?? "";
  const child = execa(opts.binary, [...args], {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    timeout: opts.timeoutMs ?? 60 * 60_000,
    lines: false,
    buffer: true,
  });
  if (opts.onLine) {
    const onLine = opts.onLine;
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream?.on("data", (chunk: Buffer) => {
        const text = partial + chunk.toString("utf8");
        const lines = text.split("\n");
        partial = lines.pop() ?? "";
        for (const l of lines) onLine(redact(l, opts.secrets));
      });
      stream?.on("end", () => {
        if (partial) onLine(redact(partial, opts.secrets));
      });
    }
  }
  const r = await child;
  const stdout = redact(String(r.stdout ?? ""), opts.secrets);
  const stderr = redact(String(r.stderr ?? ""), opts.secrets);
  if ((r as { code?: string }).code === "ENOENT" || /ENOENT/.test(String((r as { originalMessage?: string }).originalMessage ?? ""))) {
    throw new ConfigError(`${opts.binary} is not installed (or not on PATH)`, {
      code: "terraform-missing",
      hint: "install Terraform ≥ 1.5 or OpenTofu, or set terraform.binary / terraform.path in btw.yml",
    });
  }
  if (r.timedOut) throw new OperationError(`${opts.binary} ${verb} did not finish in time`, { code: "terraform-timeout" });
  if (r.exitCode !== 0) throw toError(classifyTerraformFailure(`${stderr}\n${stdout}`, { ...opts.failure, verb }));
  return { stdout, stderr };
}

function toError(f: ReturnType<typeof classifyTerraformFailure>): BtwError {
  const opts = { code: f.code, ...(f.hint ? { hint: f.hint } : {}) };
  if (f.kind === "busy") return new BusyError(f.message, f.hint ? { hint: f.hint } : {});
  if (f.kind === "config") return new ConfigError(f.message, opts);
  return new OperationError(f.message, opts);
}
