import { describe, expect, it } from "vitest";
import { networkNames, parseAttachedNetworks, proxyAttachedNetworks } from "../../../src/core/commands/proxy.js";
import { planProxyAttach } from "../../../src/core/proxy/attach.js";

describe("the proxy's attachment to tenant networks", () => {
  it("reads the attached networks and the server's networks with plain argv", () => {
    expect(proxyAttachedNetworks()).toEqual(["docker", "inspect", "--type", "container", "--format", "{{json .NetworkSettings.Networks}}", "btw-proxy"]);
    expect(networkNames()).toEqual(["docker", "network", "ls", "--format", "{{.Name}}"]);
  });

  it("parses docker inspect's network map into names", () => {
    expect(parseAttachedNetworks('{"btw-proxy":{"IPAddress":"172.18.0.2"},"btw-alpha-edge":{}}\n')).toEqual(["btw-alpha-edge", "btw-proxy"]);
    expect(parseAttachedNetworks("")).toEqual([]);
    expect(parseAttachedNetworks("null")).toEqual([]);
    expect(parseAttachedNetworks("not json")).toEqual([]);
  });

  it("after a recreate (only its own network), connects every tenant of the state whose network exists", () => {
    const plan = planProxyAttach({
      slugs: ["gamma", "alpha", "beta", "alpha"],
      existing: ["bridge", "btw-proxy", "btw-alpha-edge", "btw-beta-edge", "btw-gamma-edge", "btw-gamma-internal"],
      attached: ["btw-proxy"],
    });
    expect(plan).toEqual({ connect: ["alpha", "beta", "gamma"], missing: [] });
  });

  it("connects only what is missing, and names tenants whose network is not on the server", () => {
    const plan = planProxyAttach({
      slugs: ["alpha", "beta", "new-one"],
      existing: ["btw-proxy", "btw-alpha-edge", "btw-beta-edge", "btw-other-edge"],
      attached: ["btw-proxy", "btw-alpha-edge", "btw-other-edge"],
    });
    expect(plan).toEqual({ connect: ["beta"], missing: ["new-one"] });
  });
});
