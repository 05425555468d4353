// What a saved plan does, read from `terraform show -json` (format_version 1.2 shape).
import { describe, expect, it } from "vitest";
import { addedMonthlyCost, describeChanges, summarizePlan } from "../../../src/core/infra/plan.js";

const show = JSON.stringify({
  format_version: "1.2",
  resource_changes: [
    { address: "hcloud_network.network", mode: "managed", type: "hcloud_network", change: { actions: ["no-op"], before: { name: "btw-private" }, after: { name: "btw-private" } } },
    { address: "hcloud_server.server_btw-3", mode: "managed", type: "hcloud_server", change: { actions: ["create"], before: null, after: { name: "btw-3", server_type: "cpx32" } } },
    { address: "hcloud_server.server_btw-4", mode: "managed", type: "hcloud_server", change: { actions: ["create"], before: null, after: { name: "btw-4", server_type: "mystery" } } },
    { address: "hcloud_server.server_btw-2", mode: "managed", type: "hcloud_server", change: { actions: ["delete"], before: { name: "btw-2" }, after: null } },
    { address: "hcloud_server.server_btw-1", mode: "managed", type: "hcloud_server", change: { actions: ["delete", "create"], before: { name: "btw-1" }, after: { name: "btw-1", server_type: "cpx32" } } },
    { address: "hcloud_firewall.firewall", mode: "managed", type: "hcloud_firewall", change: { actions: ["update"], before: { name: "btw-platform" }, after: { name: "btw-platform" } } },
    { address: "data.hcloud_image.x", mode: "data", type: "hcloud_image", change: { actions: ["read"] } },
  ],
});

describe("summarizePlan", () => {
  const s = summarizePlan(show);

  it("counts creates, updates, replaces and deletes; no-ops and data sources are not changes", () => {
    expect(s.counts).toEqual({ create: 2, update: 1, replace: 1, delete: 1 });
    expect(s.changes.map((c) => [c.address, c.kind, c.name])).toEqual([
      ["hcloud_server.server_btw-3", "create", "btw-3"],
      ["hcloud_server.server_btw-4", "create", "btw-4"],
      ["hcloud_server.server_btw-2", "delete", "btw-2"],
      ["hcloud_server.server_btw-1", "replace", "btw-1"],
      ["hcloud_firewall.firewall", "update", "btw-platform"],
    ]);
  });

  it("names the servers that go (deleted or replaced) and the ones that come", () => {
    expect(s.serversGoing).toEqual(["btw-2", "btw-1"]);
    expect(s.serversComing).toEqual([{ name: "btw-3", serverType: "cpx32" }, { name: "btw-4", serverType: "mystery" }]);
  });

  it("prints deletes last", () => {
    expect(describeChanges(s)).toEqual([
      "  + hcloud_server.server_btw-3 (btw-3)",
      "  + hcloud_server.server_btw-4 (btw-4)",
      "  ~ hcloud_firewall.firewall (btw-platform)",
      "-/+ hcloud_server.server_btw-1 (btw-1)",
      "  - hcloud_server.server_btw-2 (btw-2)",
    ]);
  });

  it("prices new servers from the configured list prices, naming types without one", () => {
    expect(addedMonthlyCost(s, { cpx32: { priceEurMonth: 10.99 } })).toEqual({ eur: 10.99, unknownTypes: ["mystery"] });
  });

  it("refuses output that is not JSON", () => {
    expect(() => summarizePlan("Error: …")).toThrow(/did not print JSON/);
  });
});
