import { describe, expect, it } from "vitest";
import { judgeServer, MIN_DISK_FREE_BYTES } from "../../../src/core/server/readiness.js";
import { isolationRules, type IsolationInput } from "../../../src/core/server/isolation.js";

const facts = {
  cpus: 4, memTotalBytes: 8 * 1024 ** 3, memAvailableBytes: 6 * 1024 ** 3, diskPath: "/var/lib/docker",
  diskTotalBytes: 100 * 1024 ** 3, diskFreeBytes: 80 * 1024 ** 3, kernel: "6.1", arch: "x86_64", os: "Debian",
};

describe("judgeServer", () => {
  it("is ready with an engine, Compose v2 and room", () => {
    expect(judgeServer("s1", { facts, engineVersion: "26.1.5", composeVersion: "2.26.1" })).toEqual({ status: "ready", problems: [] });
  });

  it("needs bootstrap without an engine, naming the command", () => {
    const v = judgeServer("s1", { facts, engineVersion: null, engineError: "docker: not found", composeVersion: null });
    expect(v.status).toBe("needs-bootstrap");
    expect(v.problems[0]).toBe("no Docker engine answers on s1 (docker: not found): run `btw server bootstrap s1`");
    expect(v.problems).toHaveLength(2);
  });

  it("refuses Compose v1", () => {
    expect(judgeServer("s1", { facts, engineVersion: "26.1.5", composeVersion: "1.29.2" }).status).toBe("needs-bootstrap");
  });

  it("is degraded when the disk is nearly full", () => {
    const v = judgeServer("s1", { facts: { ...facts, diskFreeBytes: MIN_DISK_FREE_BYTES - 1 }, engineVersion: "26", composeVersion: "2.26.1" });
    expect(v.status).toBe("degraded");
    expect(v.problems[0]).toMatch(/free on \/var\/lib\/docker/);
  });
});

// issue 22 item 10: readiness looks at the tenant isolation rules as the kernel holds them
describe("judgeServer with the isolation rules", () => {
  const expected: IsolationInput = { tenantSources: ["10.220.0.0/16"], privateRanges: ["10.0.0.0/16"], otherServers: ["203.0.113.12"] };
  const saved = (rules: string[][]) =>
    ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":BTW-ISOLATION - [0:0]", ":BTW-ISOLATION-INPUT - [0:0]", ":DOCKER-USER - [0:0]", "-A INPUT -j BTW-ISOLATION-INPUT", "-A DOCKER-USER -j BTW-ISOLATION", ...rules.map((r) => r.join(" ")), "COMMIT", ""].join("\n");
  const ok = { facts, engineVersion: "26.1.5", composeVersion: "2.26.1" };

  it("is ready when the rendered rules are in force", () => {
    expect(judgeServer("s1", { ...ok, isolation: { saved: saved(isolationRules(expected)) } }, expected)).toEqual({ status: "ready", problems: [], isolation: { state: "in-place", problems: [] } });
  });

  it("needs isolation — and takes no tenants — on a host added without the rules, or after a flush; the problem names the command", () => {
    const v = judgeServer("s1", { ...ok, isolation: { saved: "*filter\n:INPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\nCOMMIT\n" } }, expected);
    expect(v.status).toBe("needs-isolation");
    expect(v.isolation?.state).toBe("missing");
    expect(v.problems).toEqual([expect.stringMatching(/^tenant isolation is not in force on s1 \(.*\): tenants can reach the host and the platform; run `btw server isolate s1`$/)]);
    const flushed = judgeServer("s1", { ...ok, isolation: { saved: saved([]) } }, expected);
    expect([flushed.status, flushed.isolation?.state]).toEqual(["needs-isolation", "missing"]);
  });

  it("needs isolation when the rules cannot be read", () => {
    expect(judgeServer("s1", { ...ok, isolation: { error: "exit 124" } }, expected)).toMatchObject({ status: "needs-isolation", isolation: { state: "unknown" } });
  });

  it("is degraded when the rules differ from btw's (a server added since)", () => {
    const v = judgeServer("s1", { ...ok, isolation: { saved: saved(isolationRules(expected)) } }, { ...expected, otherServers: ["203.0.113.12", "203.0.113.13"] });
    expect([v.status, v.isolation?.state]).toEqual(["degraded", "drift"]);
    expect(v.problems[0]).toMatch(/differ from btw's: .*; run `btw server isolate s1`$/);
  });

  it("a host without Docker needs bootstrap first (bootstrap installs the rules too)", () => {
    expect(judgeServer("s1", { facts, engineVersion: null, composeVersion: null, isolation: { saved: "" } }, expected).status).toBe("needs-bootstrap");
  });

  it("looks at nothing without expected rules (an edge proxy runs no tenants)", () => {
    expect(judgeServer("s1", { ...ok, isolation: { saved: "" } }, null)).toEqual({ status: "ready", problems: [] });
  });
});
