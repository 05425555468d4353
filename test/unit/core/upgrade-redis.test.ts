import { describe, expect, it } from "vitest";
import { checkRedisUpgrade, resolveRedisTarget } from "../../../src/core/upgrade/redis.js";

describe("upgrade redis: minor versions within one major", () => {
  it("puts a version on images.redis's repository, takes a full image as given", () => {
    expect(resolveRedisTarget("8.0.3", "172.29.0.1:5000/btw/redis:8.0.2")).toBe("172.29.0.1:5000/btw/redis:8.0.3");
    expect(resolveRedisTarget("redis:7.4.7-bookworm", "redis:7.4.6")).toBe("redis:7.4.7-bookworm");
  });
  it("refuses what names no version", () => {
    expect(() => resolveRedisTarget("8", "redis:8.0.2")).toThrow(/not a Redis version/);
    expect(() => resolveRedisTarget("redis:latest", "redis:8.0.2")).toThrow(/pinned/);
    expect(() => resolveRedisTarget("redis:alpine", "redis:8.0.2")).toThrow(expect.objectContaining({ exitCode: 2, code: "redis-version-unknown" }));
  });
  it("accepts a minor change, refuses another major", () => {
    expect(checkRedisUpgrade("acme", "redis:7.4.6", "redis:7.4.7-bookworm")).toEqual({ from: "redis:7.4.6", to: "redis:7.4.7-bookworm" });
    expect(() => checkRedisUpgrade("acme", "redis:7.4.6", "redis:8.0.2")).toThrow(expect.objectContaining({ exitCode: 2, code: "redis-major-change" }));
  });
});
