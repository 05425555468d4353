import { stringify } from "yaml";
import { redactConfig } from "../../config/redact.js";
import type { Handler } from "../../cli/program.js";

const handler: Handler = async (ctx) => {
  const { config, source, overrides } = ctx.loadedConfig();
  const safe = redactConfig(config);
  ctx.out.result({ source, overrides, config: safe }, () => {
    ctx.out.info(`# from ${source.path} (${source.via})${overrides.length ? `; overridden by ${overrides.join(", ")}` : ""}`);
    return stringify(safe);
  });
};
export default handler;
