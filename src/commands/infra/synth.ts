import type { Handler } from "../../cli/program.js";
import { infraSetup, synthesize } from "../../ops/infra/terraform.js";

// Writes the Terraform JSON and says where; touches neither Hetzner nor the state.
const handler: Handler = async (ctx, _args, opts) => {
  const setup = infraSetup(ctx, opts.outdir as string | undefined);
  const s = await synthesize(ctx, setup);
  const data = {
    stack: ctx.config.terraform.stack,
    manifest: s.manifest,
    stackFile: s.stackFile,
    stackDir: s.stackDir,
    backend: setup.backend.type,
    resources: s.resources,
    outputs: s.outputs,
    servers: s.servers,
    userDataBytes: s.userDataBytes,
    ms: s.ms,
  };
  ctx.out.result(data, () => {
    const total = Object.values(s.resources).reduce((a, b) => a + b, 0);
    const sizes = [...new Set(Object.values(s.userDataBytes))].sort((a, b) => a - b);
    return [
      `synthesized ${total} resources in ${s.ms} ms (state: ${setup.backend.type === "pg" ? "central Postgres" : setup.backend.type === "local" ? setup.backend.path : ""})`,
      `  ${s.manifest}`,
      `  ${s.stackFile}`,
      ...Object.entries(s.resources).map(([type, n]) => `  ${String(n).padStart(3)} ${type}`),
      ...(sizes.length ? [`  user_data: ${sizes.join(" / ")} bytes (limit 32768)`] : []),
    ].join("\n");
  });
};
export default handler;
