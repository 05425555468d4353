import { describe, expect, it } from "vitest";
import { cloneInput, parsePrepareOutput, prepareAndClone, PREPARED_RECIPE, PREPARED_ROOT } from "../../../src/core/tenant/prepared-db.js";

describe("prepared database: the remote command", () => {
  it("is one sh script with every value a separate word, the clone script in the environment", () => {
    const argv = prepareAndClone({ n8nImage: "n8nio/n8n:2.8.4", postgresImage: "postgres:17", volume: "btw-acme-pgdata" });
    expect(argv[0]).toBe("env");
    expect(argv[1]).toMatch(/^CLONE=set -eu\n/);
    expect(argv[2]).toBe(`PREP=${argv[5]}`); // the script, to start its own background run
    expect(argv.slice(3, 5)).toEqual(["sh", "-c"]);
    expect(argv.slice(6)).toEqual(["sh", PREPARED_ROOT, "n8nio/n8n:2.8.4", "postgres:17", PREPARED_RECIPE, "btw-acme-pgdata", "", ""]);
    expect(prepareAndClone({ n8nImage: "a", postgresImage: "b", rebuild: true, wait: true }).slice(-3)).toEqual(["", "rebuild", "wait"]);
  });

  it("refuses a volume name that is not a Docker volume name", () => {
    expect(() => prepareAndClone({ n8nImage: "a", postgresImage: "b", volume: "../etc" })).toThrow(/invalid volume name/);
  });

  it("sends the password only on stdin, inside the clone's input", () => {
    const argv = prepareAndClone({ n8nImage: "a", postgresImage: "b", volume: "v" });
    const input = cloneInput("Secret0123456789abcdefgh");
    expect(argv.join(" ")).not.toContain("Secret0123456789abcdefgh");
    expect(input).toContain("ALTER ROLE n8n PASSWORD 'Secret0123456789abcdefgh';");
    expect(input.endsWith(";\n\n")).toBe(true); // postgres --single -j: a statement ends with ";" and an empty line
  });
});

describe("prepared database: the script's report", () => {
  it("reads ready, built, refused and the clone", () => {
    expect(parsePrepareOutput("prepared 0123456789abcdef ready\nclone done\n")).toEqual({ key: "0123456789abcdef", prepared: "ready", refused: null, clone: "done" });
    expect(parsePrepareOutput("prepared 0123456789abcdef refused: its checksum does not match; rebuilding\nprepared 0123456789abcdef built\nclone earlier\n")).toEqual({
      key: "0123456789abcdef",
      prepared: "built",
      refused: "its checksum does not match",
      clone: "earlier",
    });
    expect(parsePrepareOutput("prepared 0123456789abcdef refused: its checksum does not match; rebuilding\nprepared 0123456789abcdef building\n")).toMatchObject({ prepared: "building", refused: "its checksum does not match", clone: null });
    expect(parsePrepareOutput("prepared 0123456789abcdef busy\n")).toMatchObject({ prepared: "busy" });
    expect(parsePrepareOutput("")).toEqual({ key: null, prepared: null, refused: null, clone: null });
  });
});
