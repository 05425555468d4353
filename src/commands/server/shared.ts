import type { Ctx } from "../../cli/context.js";
import { judgeServer, type ServerProbe, type Verdict } from "../../core/server/readiness.js";
import { sshFor } from "../../ops/server/context.js";
import type { Queryable } from "../../state/db.js";
import type { ServerRow, ServerStatus } from "../../state/servers.js";

export interface CheckResult {
  server: string;
  status: ServerStatus;
  verdict: Verdict | null;
  facts: Record<string, unknown> | null;
  error: string | null;
  /** the typed error behind `error`, to rethrow when a single server was asked for */
  cause?: unknown;
}

/**
 * What a probe and its verdict record in `servers.facts`. `isolation` (the state of the tenant
 * isolation rules it saw) is what placement reads: a server takes tenants only once a check
 * found its rules installed (core/server/isolation-check.ts isolationInPlace).
 */
export function factsOf(probe: ServerProbe, verdict: Verdict): Record<string, unknown> {
  return {
    ...probe.facts,
    engineVersion: probe.engineVersion ?? undefined,
    composeVersion: probe.composeVersion ?? undefined,
    usernsRemap: probe.usernsRemap,
    verdict: verdict.status,
    problems: verdict.problems,
    ...(verdict.isolation ? { isolation: verdict.isolation.state } : {}),
  };
}

/** Probes one server (its isolation rules included) and records what it saw; a failure is recorded as `unreachable`. */
export async function checkAndRecord(ctx: Ctx, q: Queryable, s: ServerRow): Promise<CheckResult> {
  const { updateServerFacts, updateServerStatus } = await import("../../state/servers.js");
  const { probeServer } = await import("../../remote/probe-server.js");
  const { expectedIsolation } = await import("../../ops/server/isolation.js");
  try {
    const expected = await expectedIsolation(q, ctx.config, s);
    const probe = await probeServer(await sshFor(ctx, s), { isolation: expected !== null });
    const verdict = judgeServer(s.name, probe, expected);
    const facts = factsOf(probe, verdict);
    // draining is the operator's decision: a check never undoes it
    const status: ServerStatus = s.status === "draining" ? "draining" : verdict.status === "needs-bootstrap" ? "new" : "active";
    await updateServerFacts(q, s.id, facts);
    if (status !== s.status) await updateServerStatus(q, s.id, status);
    return { server: s.name, status, verdict, facts, error: null };
  } catch (e) {
    if (s.status !== "unreachable") await updateServerStatus(q, s.id, "unreachable");
    return { server: s.name, status: "unreachable", verdict: null, facts: null, error: (e as Error).message, cause: e };
  }
}

export function bytes(n: unknown): string {
  if (typeof n !== "number") return "-";
  const gib = n / 1024 ** 3;
  return gib >= 1 ? `${gib.toFixed(1)}G` : `${(n / 1024 ** 2).toFixed(0)}M`;
}
