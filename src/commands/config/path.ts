import type { Handler } from "../../cli/program.js";

const handler: Handler = async (ctx) => {
  const source = ctx.configSource();
  ctx.out.result({ path: source?.path ?? null, via: source?.via ?? null, home: ctx.home }, () =>
    source ? `${source.path}\t(${source.via})` : `none (btw init writes ${ctx.home}/btw.yml)`,
  );
};
export default handler;
