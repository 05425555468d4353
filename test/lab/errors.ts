/** A lab failure with one line for the operator; the CLI prints only the message. */
export class LabError extends Error {
  override name = "LabError";
}
