import type { Handler } from "../../cli/program.js";
import { OperationError } from "../../errors.js";

const handler: Handler = async () => {
  throw new OperationError("not implemented yet", { code: "not-implemented" });
};
export default handler;
