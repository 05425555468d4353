import type { Ctx } from "../../cli/context.js";
import { loadWorkflowSource, workflowsDirOption, type WorkflowSource } from "../../ops/workflows/source.js";

/** The templates this command works with: --workflows-dir, BTW_WORKFLOWS_DIR, or the shipped ones. */
export function sourceFor(ctx: Ctx, opts: Record<string, unknown>): WorkflowSource {
  return loadWorkflowSource(workflowsDirOption(opts, ctx.env, ctx.io.cwd));
}

export function secs(n: number | null): string {
  return n === null ? "-" : `${n.toFixed(1)} s`;
}
