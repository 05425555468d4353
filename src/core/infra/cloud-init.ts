// A server's cloud-init user data: templates/cloud-init/cloud-config.yml plus the files and
// commands of the first boot — the bootstrap script (the same one `btw server bootstrap`
// runs over SSH) and, on tenant servers, the btw proxy. Pure: the caller reads the assets.

import { parseDocument } from "yaml";
import { OperationError } from "../../errors.js";

/** Hetzner's limit on user_data. */
export const USER_DATA_MAX_BYTES = 32 * 1024;

/** Where cloud-init puts the bootstrap script on the server. */
export const BOOTSTRAP_SCRIPT_PATH = "/opt/btw/bin/bootstrap.sh";

export interface UserDataFile {
  path: string;
  content: string;
  permissions: string;
}

export interface UserDataInput {
  /** templates/cloud-init/cloud-config.yml */
  base: string;
  /** templates/cloud-init/bootstrap.sh */
  script: string;
  scriptArgs: readonly string[];
  /** more files to write (the proxy's), written before any command runs */
  files?: readonly UserDataFile[];
  /** argv to run after the bootstrap (e.g. the proxy's `compose up`) */
  commands?: ReadonlyArray<readonly string[]>;
}

export function renderUserData(input: UserDataInput): string {
  const doc = parseDocument(input.base);
  if (doc.errors.length > 0) throw new OperationError(`templates/cloud-init/cloud-config.yml is not valid YAML: ${doc.errors[0]!.message}`);
  const files: UserDataFile[] = [{ path: BOOTSTRAP_SCRIPT_PATH, content: input.script, permissions: "0755" }, ...(input.files ?? [])];
  doc.set(
    "write_files",
    files.map((f) => ({ path: f.path, permissions: f.permissions, owner: "root:root", content: f.content })),
  );
  const commands = [[BOOTSTRAP_SCRIPT_PATH, ...input.scriptArgs], ...(input.commands ?? []).map((c) => [...c])];
  // each command as one flow sequence: [docker, compose, …] — cloud-init runs it without a shell
  doc.set("runcmd", doc.createNode(commands.map((c) => doc.createNode(c, { flow: true }))));
  // cloud-init only reads user data that starts with this exact line.
  const text = doc.toString({ lineWidth: 0, blockQuote: "literal" });
  return text.startsWith("#cloud-config\n") ? text : `#cloud-config\n${text}`;
}

export function userDataBytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
