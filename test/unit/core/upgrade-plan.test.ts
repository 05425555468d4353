import { describe, expect, it } from "vitest";
import { planWaves, repositoryOf, resolveTargetImage, shouldHalt, spread, versionOf } from "../../../src/core/upgrade/plan.js";

describe("resolveTargetImage", () => {
  it("puts a version on the default image's repository", () => {
    expect(resolveTargetImage("2.9.0", "docker.n8n.io/n8nio/n8n:2.8.4")).toBe("docker.n8n.io/n8nio/n8n:2.9.0");
    expect(resolveTargetImage("v2.9.1", "172.29.0.1:5000/btw/n8n:2.8.4")).toBe("172.29.0.1:5000/btw/n8n:2.9.1");
  });
  it("takes a full image as given and refuses latest and garbage", () => {
    expect(resolveTargetImage("n8nio/n8n:2.9.0", "x/n8n:1")).toBe("n8nio/n8n:2.9.0");
    expect(() => resolveTargetImage("n8nio/n8n:latest", "x/n8n:1")).toThrow(/pinned/);
    expect(() => resolveTargetImage("two", "x/n8n:1")).toThrow(/not a version/);
    expect(() => resolveTargetImage("", "x/n8n:1")).toThrow(/needs a version/);
  });
  it("repository and version of registry refs with ports and digests", () => {
    expect(repositoryOf("172.29.0.1:5000/btw/n8n:2.8.4")).toBe("172.29.0.1:5000/btw/n8n");
    expect(repositoryOf("n8nio/n8n@sha256:abc")).toBe("n8nio/n8n");
    expect(versionOf("172.29.0.1:5000/btw/n8n:2.8.4")).toBe("2.8.4");
    expect(versionOf("172.29.0.1:5000/btw/n8n")).toBe("?");
    expect(versionOf(null)).toBe("?");
  });
});

describe("planWaves", () => {
  const t = (slug: string, server: string) => ({ slug, server });
  it("canaries one per server first, then waves of the given size", () => {
    const w = planWaves([t("d", "s1"), t("a", "s1"), t("c", "s2"), t("b", "s1"), t("e", "s2")], { waveSize: 2, canary: 2 });
    expect(w.canary.map((x) => x.slug)).toEqual(["a", "c"]);
    expect(w.waves.map((x) => x.map((y) => y.slug))).toEqual([["b", "d"], ["e"]]);
  });
  it("no canary, wave size 1", () => {
    const w = planWaves([t("b", "s"), t("a", "s")], { waveSize: 1, canary: 0 });
    expect(w).toEqual({ canary: [], waves: [[t("a", "s")], [t("b", "s")]] });
  });
  it("refuses a wave size of 0", () => {
    expect(() => planWaves([], { waveSize: 0, canary: 0 })).toThrow(/wave-size/);
  });
});

describe("shouldHalt and spread", () => {
  it("halts past maxFailures", () => {
    expect(shouldHalt(0, 0)).toBe(false);
    expect(shouldHalt(1, 0)).toBe(true);
    expect(shouldHalt(2, 2)).toBe(false);
  });
  it("counts tenants per version", () => {
    expect(spread(["r/n8n:2.8.4", "r/n8n:2.7.0", "r/n8n:2.8.4", null])).toEqual([
      { version: "2.8.4", tenants: 2 },
      { version: "2.7.0", tenants: 1 },
      { version: "?", tenants: 1 },
    ]);
  });
});
