import { join } from "node:path";
import type { Ctx } from "../cli/context.js";
import type { Handler } from "../cli/program.js";

// `btw __complete <kind>`: what the shell completion scripts (`btw completion`) call back for
// names — one per line, nothing else. Hidden from --help. It never fails where a shell can
// see it: no configuration, a state that is down or slow, an embedded server that is not
// running (it is not started for this) — each prints nothing and exits 0, within a deadline.

/**
 * The whole call, config included: a completion that makes the operator wait is worse than
 * none. BTW_COMPLETE_TIMEOUT_MS changes it (tests on a loaded machine).
 */
const DEADLINE_MS = 1500;

const handler: Handler = async (ctx, [kind]) => {
  const deadline = Number(ctx.env.BTW_COMPLETE_TIMEOUT_MS) || DEADLINE_MS;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), deadline);
    timer.unref();
  });
  try {
    const names = await Promise.race([namesOf(ctx, String(kind), deadline).catch(() => []), late]);
    if (names.length) ctx.io.stdout.write(names.join("\n") + "\n");
  } finally {
    clearTimeout(timer);
  }
  return 0;
};
export default handler;

async function namesOf(ctx: Ctx, kind: string, timeoutMs: number): Promise<string[]> {
  if (!ctx.configSource()) return [];
  if (kind === "plans") return Object.keys(ctx.config.plans);
  if (kind !== "tenants" && kind !== "servers" && kind !== "backups") return [];
  const { quickNames } = await import("../state/quick-names.js");
  const url = ctx.config.database.url;
  return quickNames(kind, { ...(url ? { url } : {}), dataDir: join(ctx.home, "state"), timeoutMs });
}
