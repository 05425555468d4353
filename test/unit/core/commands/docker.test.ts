import { describe, expect, it } from "vitest";
import { composeVersion, dockerEngineVersion } from "../../../../src/core/commands/docker.js";
import { shellJoin } from "../../../../src/core/shell.js";

describe("docker probes", () => {
  it("asks the engine for its server version only", () => {
    expect(dockerEngineVersion()).toEqual(["docker", "version", "--format", "{{.Server.Version}}"]);
    expect(shellJoin(dockerEngineVersion())).toBe("docker version --format '{{.Server.Version}}'");
  });

  it("asks Compose v2 for its short version", () => {
    expect(composeVersion()).toEqual(["docker", "compose", "version", "--short"]);
  });
});
