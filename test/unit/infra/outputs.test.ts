// The stack's outputs and what `infra apply` registers from them.
import { describe, expect, it } from "vitest";
import { parseServerOutputs, planRegistration, type ServerOutput } from "../../../src/core/infra/outputs.js";

const outputJson = JSON.stringify({
  "server_btw-1": { sensitive: false, type: ["object", {}], value: { name: "btw-1", id: "101", ipv4: "198.51.100.1", ipv6: "2001:db8::1", private_ip: "10.0.1.11", role: "tenant", server_type: "cpx32" } },
  "server_btw-monitoring": { sensitive: false, value: { name: "btw-monitoring", id: 103, ipv4: "198.51.100.3", ipv6: "2001:db8::3", private_ip: "10.0.1.10", role: "monitoring", server_type: "cx33" } },
  unrelated: { sensitive: false, value: "x" },
});

describe("parseServerOutputs", () => {
  it("reads every server_<name> output", () => {
    expect(parseServerOutputs(outputJson)).toEqual([
      { name: "btw-1", id: "101", ipv4: "198.51.100.1", ipv6: "2001:db8::1", privateIp: "10.0.1.11", role: "tenant", serverType: "cpx32" },
      { name: "btw-monitoring", id: "103", ipv4: "198.51.100.3", ipv6: "2001:db8::3", privateIp: "10.0.1.10", role: "monitoring", serverType: "cx33" },
    ]);
  });

  it("an empty state has no servers", () => {
    expect(parseServerOutputs("{}")).toEqual([]);
  });
});

describe("planRegistration", () => {
  const out = (name: string, id: string, ipv4: string, role: ServerOutput["role"] = "tenant"): ServerOutput => ({ name, id, ipv4, ipv6: "", privateIp: "", role, serverType: "cpx32" });
  const base = { capacities: { cpx32: { capacity: 12 } }, defaultCapacity: 7 };

  it("registers new tenant servers with their type's capacity; the monitoring server takes no tenants", () => {
    const r = planRegistration({ ...base, outputs: [out("btw-1", "101", "198.51.100.1"), out("btw-monitoring", "103", "198.51.100.3", "monitoring")], known: [] });
    expect(r).toEqual([{ action: "insert", output: out("btw-1", "101", "198.51.100.1"), capacity: 12 }]);
  });

  it("falls back to placement.defaultCapacity for a type without one", () => {
    const r = planRegistration({ ...base, outputs: [{ ...out("btw-1", "101", "198.51.100.1"), serverType: "new-type" }], known: [] });
    expect(r[0]).toMatchObject({ action: "insert", capacity: 7 });
  });

  it("leaves a server it registered before alone", () => {
    const r = planRegistration({ ...base, outputs: [out("btw-1", "101", "198.51.100.1")], known: [{ id: 5, name: "btw-1", host: "198.51.100.1", providerId: "101" }] });
    expect(r).toEqual([{ action: "unchanged", output: out("btw-1", "101", "198.51.100.1"), serverId: 5 }]);
  });

  it("never overwrites a server that differs: another machine, address or a hand-added one", () => {
    const o = out("btw-1", "101", "198.51.100.1");
    const reasons = [
      { id: 5, name: "btw-1", host: "198.51.100.1", providerId: "999" },
      { id: 5, name: "btw-1", host: "198.51.100.9", providerId: "101" },
      { id: 5, name: "btw-1", host: "198.51.100.1", providerId: null },
      { id: 6, name: "old-name", host: "198.51.100.1", providerId: "101" },
    ].map((k) => planRegistration({ ...base, outputs: [o], known: [k] })[0]);
    expect(reasons.map((r) => (r?.action === "conflict" ? r.reason : r?.action))).toEqual([
      "'btw-1' is registered with provider id 999, the stack says 101",
      "'btw-1' is registered at 198.51.100.9, the stack says 198.51.100.1",
      "'btw-1' was added by hand (no provider id)",
      "provider id 101 is registered as 'old-name'",
    ]);
  });
});
