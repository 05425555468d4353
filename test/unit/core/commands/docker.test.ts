import { describe, expect, it } from "vitest";
import { composeVersion, dockerEngineVersion, dockerSecurityOptions, parseUsernsRemap } from "../../../../src/core/commands/docker.js";
import { shellJoin } from "../../../../src/core/shell.js";

describe("docker probes", () => {
  it("asks the engine for its server version only", () => {
    expect(dockerEngineVersion()).toEqual(["docker", "version", "--format", "{{.Server.Version}}"]);
    expect(shellJoin(dockerEngineVersion())).toBe("docker version --format '{{.Server.Version}}'");
  });

  it("asks Compose v2 for its short version", () => {
    expect(composeVersion()).toEqual(["docker", "compose", "version", "--short"]);
  });

  it("reads user-namespace remapping from the engine's security options (as Docker 26 prints them on the lab)", () => {
    expect(dockerSecurityOptions()).toEqual(["docker", "info", "--format", "{{json .SecurityOptions}}"]);
    expect(parseUsernsRemap('["name=seccomp,profile=builtin","name=userns"]\n')).toBe(true);
    expect(parseUsernsRemap('["name=seccomp,profile=builtin","name=cgroupns"]')).toBe(false);
    expect(parseUsernsRemap("[]")).toBe(false);
    // not the list: unknown, not "off"
    expect(parseUsernsRemap("")).toBeNull();
    expect(parseUsernsRemap("Cannot connect to the Docker daemon")).toBeNull();
    expect(parseUsernsRemap('{"name":"userns"}')).toBeNull();
  });
});
