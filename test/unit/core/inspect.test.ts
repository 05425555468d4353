import { describe, expect, it } from "vitest";
import { inspectNetworks, parseNetworkIp, psqlFromStdin } from "../../../src/core/commands/inspect.js";

describe("inspect builders", () => {
  it("inspects networks as JSON", () => {
    expect(inspectNetworks("btw-acme-n8n")).toEqual(["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", "btw-acme-n8n"]);
  });

  it("finds the address on one network", () => {
    const out = JSON.stringify({ "btw-acme-edge": { IPAddress: "10.220.0.34" }, "btw-acme-internal": { IPAddress: "10.220.0.2" } });
    expect(parseNetworkIp(out + "\n", "btw-acme-edge")).toBe("10.220.0.34");
    expect(parseNetworkIp(out, "other")).toBeNull();
    expect(parseNetworkIp("not json", "x")).toBeNull();
  });

  it("runs psql from stdin with ON_ERROR_STOP", () => {
    expect(psqlFromStdin("btw-acme-postgres", "n8n", "n8n")).toEqual([
      "docker", "exec", "-i", "btw-acme-postgres", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "n8n", "-d", "n8n",
    ]);
  });
});

describe("network subnets", () => {
  it("keeps the IPv4 CIDRs of docker network inspect's output", async () => {
    const { networkSubnets, parseNetworkSubnets, NETWORK_SUBNETS_SCRIPT } = await import("../../../src/core/commands/inspect.js");
    expect(networkSubnets()).toEqual(["sh", "-c", NETWORK_SUBNETS_SCRIPT]);
    expect(parseNetworkSubnets("172.17.0.0/16 \n\n10.220.0.0/27 fd00::/64 10.220.0.32/27 \n")).toEqual(["172.17.0.0/16", "10.220.0.0/27", "10.220.0.32/27"]);
  });

  it("a migration's target subnet avoids every network but the tenant's own (another state's tenant, a network left behind)", async () => {
    const { networkSubnets, foreignSubnets, NETWORK_SUBNETS_SCRIPT } = await import("../../../src/core/commands/inspect.js");
    expect(networkSubnets()).toEqual(["sh", "-c", NETWORK_SUBNETS_SCRIPT]);
    const out = [
      "bridge 172.17.0.0/16 ",
      "btw-tr-1-internal 10.220.0.0/27 ",
      "btw-tr-1-edge 10.220.0.32/27 fd00::/64 ",
      "btw-acme-internal 10.220.0.64/27 ",
      "btw-acme-edge 10.220.0.96/27 ",
      "btw-acme-2-internal 10.220.0.128/27 ",
      "host ",
      "",
    ].join("\n");
    expect(foreignSubnets(out, "acme")).toEqual(["172.17.0.0/16", "10.220.0.0/27", "10.220.0.32/27", "10.220.0.128/27"]);
    expect(foreignSubnets(out, "tr-1")).toEqual(["172.17.0.0/16", "10.220.0.64/27", "10.220.0.96/27", "10.220.0.128/27"]);
  });
});
