// Decisions made from the config before any construct exists.
import { describe, expect, it } from "vitest";
import { ANYWHERE, firewallRules } from "../../../src/core/infra/firewall.js";
import { platformSpec, plannedServerNames, resourceName, specProblems } from "../../../src/core/infra/spec.js";
import { assets, infraConfig, OPS_KEY } from "./fixtures.js";

describe("specProblems", () => {
  it("a usable config has none", () => {
    expect(specProblems(infraConfig())).toEqual([]);
  });

  it("lists every problem at once, each naming its key", () => {
    const config = infraConfig({
      hetzner: { adminCidrs: [], sshKeys: [{ name: "a", publicKey: "not a key" }, { name: "a", publicKey: OPS_KEY }], networkRange: "10.0.0.0/16", subnetRange: "10.9.0.0/24" },
    });
    expect(specProblems(config)).toEqual([
      "hetzner.adminCidrs is empty: SSH (and so btw) could not reach the servers; add your address, e.g. 203.0.113.7/32",
      "hetzner.sshKeys 'a': publicKey is not an OpenSSH public key (ssh-ed25519 AAAA…)",
      "hetzner.sshKeys: 'a' is listed twice",
      "hetzner.subnetRange 10.9.0.0/24 is not inside hetzner.networkRange 10.0.0.0/16",
    ]);
  });

  it("needs a key to log in with", () => {
    expect(specProblems(infraConfig({ hetzner: { sshKeys: [] } }))).toEqual(["hetzner.sshKeys is empty: add the operator's public key (name, publicKey)"]);
  });

  it("refuses a subnet too small for the servers' addresses and host bits in a range", () => {
    expect(specProblems(infraConfig({ hetzner: { servers: 10, subnetRange: "10.0.1.0/28" } }))).toEqual([
      "hetzner.subnetRange 10.0.1.0/28 is too small for 10 servers (needs 22 addresses)",
    ]);
    expect(specProblems(infraConfig({ hetzner: { networkRange: "10.0.0.1/16" } }))[0]).toMatch(/^hetzner\.networkRange: '10\.0\.0\.1\/16' has host bits set/);
  });

  it("platformSpec throws one config error (exit 2) listing them", () => {
    expect(() => platformSpec(infraConfig({ hetzner: { adminCidrs: [], sshKeys: [] } }), assets())).toThrowError(
      expect.objectContaining({ code: "infra-config", exitCode: 2, message: expect.stringContaining("2 problems") }),
    );
  });
});

describe("servers, names and addresses", () => {
  it("names tenant servers <prefix>-N and the monitoring one <prefix>-monitoring", () => {
    expect(plannedServerNames(infraConfig({ hetzner: { servers: 2, monitoring: true } }))).toEqual([
      { name: "btw-1", role: "tenant" },
      { name: "btw-2", role: "tenant" },
      { name: "btw-monitoring", role: "monitoring" },
    ]);
    expect(plannedServerNames(infraConfig({ hetzner: { servers: 0 } }))).toEqual([]);
  });

  it("gives fixed private addresses: monitoring .10, tenant server n .(10+n)", () => {
    const spec = platformSpec(infraConfig({ hetzner: { servers: 3, monitoring: true, subnetRange: "10.0.8.0/24" } }), assets());
    expect(spec.servers.map((s) => [s.name, s.privateIp])).toEqual([
      ["btw-1", "10.0.8.11"],
      ["btw-2", "10.0.8.12"],
      ["btw-3", "10.0.8.13"],
      ["btw-monitoring", "10.0.8.10"],
    ]);
  });

  it("makes Terraform-safe resource names", () => {
    expect(resourceName("ssh_key_ops@laptop.1")).toBe("ssh_key_ops_laptop_1");
    expect(resourceName("1st")).toBe("_st");
  });
});

describe("firewallRules", () => {
  it("admin CIDRs for SSH, anywhere for web, the private range for each metrics port", () => {
    const rules = firewallRules({ adminCidrs: ["198.51.100.0/24", "2001:db8::/48"], networkRange: "10.1.0.0/16", metricsPorts: ["9100-9110"] });
    expect(rules.map((r) => [r.protocol, r.port, r.sourceIps])).toEqual([
      ["tcp", "22", ["198.51.100.0/24", "2001:db8::/48"]],
      ["tcp", "80", [...ANYWHERE]],
      ["tcp", "443", [...ANYWHERE]],
      ["udp", "443", [...ANYWHERE]],
      ["tcp", "9100-9110", ["10.1.0.0/16"]],
    ]);
    expect(rules.every((r) => r.direction === "in")).toBe(true);
  });
});
