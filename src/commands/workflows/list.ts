import type { Handler } from "../../cli/program.js";
import { sourceFor } from "./shared.js";

// The templates btw deploys, from the manifest: nothing is contacted.
const handler: Handler = async (ctx, _args, opts) => {
  const source = sourceFor(ctx, opts);
  const { manifest } = source;
  const types = new Map(manifest.credentials.map((c) => [c.name, c.type]));
  const rows = manifest.workflows.map((w) => ({
    key: w.key,
    name: w.name,
    version: w.version,
    trigger: w.trigger,
    calls: w.calls,
    credentials: w.credentials.map((c) => ({ name: c, type: types.get(c)! })),
    latest: w.changelog[0]!,
  }));
  ctx.out.result({ source: source.origin, workflows: rows }, () =>
    [
      ctx.out.table(rows, [
        { header: "key", value: (r) => r.key },
        { header: "name", value: (r) => r.name },
        { header: "version", value: (r) => r.version, align: "right" },
        { header: "trigger", value: (r) => r.trigger },
        { header: "credentials", value: (r) => r.credentials.map((c) => c.name).join(", ") },
      ]),
      ...rows.map((r) => [`${r.key} ${r.latest.version}${r.latest.date ? ` (${r.latest.date})` : ""}:`, ...r.latest.changes.map((c) => `  - ${c}`)].join("\n")),
    ].join("\n"),
  );
};
export default handler;
