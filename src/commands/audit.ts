import type { Handler } from "../cli/program.js";
import { parseSince } from "../core/since.js";
import { UsageError } from "../errors.js";

const handler: Handler = async (ctx, _args, opts) => {
  let since: Date | undefined;
  if (typeof opts.since === "string") {
    const d = parseSince(opts.since, new Date());
    if (!d) throw new UsageError(`--since ${JSON.stringify(opts.since)} is not a date or a duration`, { hint: "use e.g. 2h, 7d, 2026-11-01 or 2026-11-01T08:00Z" });
    since = d;
  }
  const db = await ctx.db();
  const { listAudit } = await import("../state/audit.js");
  const rows = await listAudit(db, {
    ...(since ? { since } : {}),
    ...(typeof opts.action === "string" ? { actionPrefix: opts.action } : {}),
    limit: opts.limit as number,
  });
  ctx.out.result({ entries: rows }, () =>
    rows.length === 0
      ? "no audit entries"
      : ctx.out.table(rows, [
          { header: "at", value: (r) => new Date(r.at).toISOString().replace("T", " ").slice(0, 19) },
          { header: "who", value: (r) => `${r.actor}@${r.host}` },
          { header: "action", value: (r) => r.action },
          { header: "target", value: (r) => r.target },
          { header: "details", value: (r) => summarize(r.details) },
        ]),
  );
};
export default handler;

function summarize(details: Record<string, unknown>): string {
  const { command, ...rest } = details;
  const s = Object.keys(rest).length ? JSON.stringify(rest) : String(command ?? "");
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}
