// Terraform's failures, read from its output and turned into one line that says what to do.
// Pure: the runner (src/remote/terraform.ts) passes the redacted output in.

export type TerraformFailureKind = "config" | "operation" | "busy";

export interface TerraformFailure {
  kind: TerraformFailureKind;
  code: string;
  message: string;
  hint?: string;
}

export interface FailureContext {
  /** terraform or tofu */
  binary: string;
  /** the subcommand that failed (init, plan, apply, output…) */
  verb: string;
  /** hetznercloud/hcloud */
  provider: string;
  providerMirror?: string;
}

const MIRROR_HINT = (binary: string) =>
  `set terraform.providerMirror in btw.yml to a directory holding the provider; make one on a connected machine with \`${binary} providers mirror <dir>\` in the synthesized stack directory and copy it here`;

export function classifyTerraformFailure(output: string, ctx: FailureContext): TerraformFailure {
  const text = output.replace(/\r/g, "");
  const flat = text.replace(/\s+/g, " ");

  if (/was not found in any of the search locations/.test(flat) && ctx.providerMirror) {
    return {
      kind: "config",
      code: "provider-mirror-incomplete",
      message: `${ctx.provider} is not in terraform.providerMirror (${ctx.providerMirror}) for this platform and version constraint`,
      hint: `refresh the mirror: \`${ctx.binary} providers mirror -platform=<os_arch> ${ctx.providerMirror}\` on a connected machine`,
    };
  }
  if (
    /Failed to query available provider packages|Failed to install provider|could not connect to registry\.|failed to request discovery document|Failed to retrieve available versions/.test(flat)
  ) {
    const registry = /could not connect to (registry\.[a-z.]+)/.exec(flat)?.[1] ?? "the provider registry";
    return {
      kind: "config",
      code: "provider-registry-unreachable",
      message: `${ctx.binary} cannot download the provider ${ctx.provider}: ${registry} is not reachable from this host (terraform.providerMirror is not set)`,
      hint: MIRROR_HINT(ctx.binary),
    };
  }
  if (/Error acquiring the state lock/.test(flat)) {
    return {
      kind: "busy",
      code: "infra-state-locked",
      message: `the Terraform state is locked by another run`,
      hint: "wait for the other `btw infra` command to finish, then retry",
    };
  }
  if (/Backend configuration changed|Backend initialization required/.test(flat)) {
    return {
      kind: "config",
      code: "infra-backend-changed",
      message: "the Terraform backend changed (database.url was set or unset since the last run)",
      hint: `move the state once by hand: \`${ctx.binary} init -migrate-state\` in the stack directory (see \`btw infra synth\`), then retry`,
    };
  }
  if (/\b(401|unauthorized|token is invalid|unable to authenticate)\b/i.test(flat)) {
    return {
      kind: "config",
      code: "hcloud-unauthorized",
      message: "Hetzner rejected the API token",
      hint: "set HCLOUD_TOKEN to a read/write token of the project (Hetzner Console → Security → API tokens)",
    };
  }
  const error = firstError(text);
  return {
    kind: "operation",
    code: `terraform-${ctx.verb}-failed`,
    message: `${ctx.binary} ${ctx.verb} failed${error ? `: ${error}` : ""}`,
    hint: "re-run with --verbose to see Terraform's full output",
  };
}

/** The first `Error: …` line with the sentence that follows it, on one line. */
export function firstError(text: string): string {
  const lines = text.split("\n").map((l) => l.replace(/^[│╷╵\s]+/, "").trim());
  const i = lines.findIndex((l) => l.startsWith("Error: "));
  if (i < 0) return lines.filter(Boolean).pop()?.slice(0, 300) ?? "";
  const title = lines[i]!.slice("Error: ".length);
  const detail: string[] = [];
  for (const l of lines.slice(i + 1)) {
    if (detail.length && !l) break;
    if (l) detail.push(l);
    if (detail.join(" ").length > 200) break;
  }
  return [title, detail.join(" ")].filter(Boolean).join(": ").slice(0, 300);
}
