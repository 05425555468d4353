import { z } from "zod";
import { configSchema } from "../../config/schema.js";
import type { Handler } from "../../cli/program.js";

// JSON Schema for editors (yaml-language-server: `# yaml-language-server: $schema=btw.schema.json`).
const handler: Handler = async (ctx) => {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" });
  ctx.io.stdout.write(JSON.stringify({ ...schema, title: "btw.yml" }, null, 2) + "\n");
};
export default handler;
