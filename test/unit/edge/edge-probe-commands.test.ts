import { describe, expect, it } from "vitest";
import {
  EDGE_HEALTH_SCRIPT,
  edgeHealthCheck,
  edgeProxyState,
  isNoSuchContainer,
  isNoSuchFile,
  parseContainerState,
  readEdgeCaddyfile,
} from "../../../src/core/commands/edge-probe.js";
import { shellJoin } from "../../../src/core/shell.js";

describe("edge probe commands", () => {
  it("read the live Caddyfile, the container's state, and the health check from inside the container", () => {
    expect(readEdgeCaddyfile()).toEqual(["cat", "--", "/opt/btw/proxy/conf/Caddyfile"]);
    expect(edgeProxyState()).toEqual(["docker", "inspect", "--type", "container", "--format", "{{json .State}}", "btw-proxy"]);
    expect(edgeHealthCheck()).toEqual(["docker", "exec", "btw-proxy", "sh", "-c", EDGE_HEALTH_SCRIPT, "sh", "http://127.0.0.1:80/btw-edge-health"]);
  });

  it("the health script takes the URL as $1 and uses wget when present, else curl, both bounded", () => {
    expect(EDGE_HEALTH_SCRIPT).toBe('if command -v wget >/dev/null 2>&1; then wget -q -T 5 -O - "$1"; else curl -fsS -m 5 "$1"; fi');
    expect(shellJoin(edgeHealthCheck())).toBe(
      `docker exec btw-proxy sh -c 'if command -v wget >/dev/null 2>&1; then wget -q -T 5 -O - "$1"; else curl -fsS -m 5 "$1"; fi' sh http://127.0.0.1:80/btw-edge-health`,
    );
  });
});

describe("parsing their output", () => {
  it("the container's status and Docker's health verdict (null without a healthcheck)", () => {
    expect(parseContainerState('{"Status":"running","Running":true,"Health":{"Status":"starting"}}\n')).toEqual({ status: "running", health: "starting" });
    expect(parseContainerState('{"Status":"exited","Running":false}')).toEqual({ status: "exited", health: null });
    expect(parseContainerState("")).toBeNull();
    expect(parseContainerState("null")).toBeNull();
    expect(parseContainerState("not json")).toBeNull();
  });

  it("tells a missing container or file from other failures", () => {
    expect(isNoSuchContainer("Error: No such container: btw-proxy")).toBe(true);
    expect(isNoSuchContainer("Error: No such object: btw-proxy")).toBe(true);
    expect(isNoSuchContainer("permission denied while trying to connect to the Docker daemon socket")).toBe(false);
    expect(isNoSuchFile("cat: /opt/btw/proxy/conf/Caddyfile: No such file or directory")).toBe(true);
    expect(isNoSuchFile("cat: /opt/btw/proxy/conf/Caddyfile: Permission denied")).toBe(false);
  });
});
