import { describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { allocatable, fitsResources, serverCapacity } from "../../../src/core/capacity.js";
import { parseContainerStats, sumSamples, volumeBytesByTenant } from "../../../src/core/usage/resources.js";

const MiB = 2 ** 20;

describe("a tenant's real use from Docker's container stats (issue 26)", () => {
  it("memory's working set leaves the inactive file cache out (cgroup v1 and v2 names), as docker stats does", () => {
    expect(parseContainerStats({ memory_stats: { usage: 500 * MiB, stats: { total_inactive_file: 100 * MiB } } }).memoryBytes).toBe(400 * MiB);
    expect(parseContainerStats({ memory_stats: { usage: 300 * MiB, stats: { inactive_file: 20 * MiB } } }).memoryBytes).toBe(280 * MiB);
  });
  it("CPUs from the two readings Docker takes a second apart; none for a first reading or a stopped container", () => {
    const s = { cpu_stats: { cpu_usage: { total_usage: 2_500_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 4 }, precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 16_000_000_000 } };
    // 0.5 s of CPU over 4 s of the 4 CPUs' time → 0.125 × 4 = 0.5 CPUs
    expect(parseContainerStats(s).cpuCores).toBe(0.5);
    expect(parseContainerStats({ ...s, precpu_stats: {} }).cpuCores).toBe(0);
    expect(parseContainerStats({})).toEqual({ memoryBytes: 0, cpuCores: 0 });
  });
  it("a tenant is the sum of its containers (its p95 is the state's percentile_disc, tenantUse)", () => {
    expect(sumSamples([{ memoryBytes: 1, cpuCores: 0.1 }, { memoryBytes: 2, cpuCores: 0.2 }])).toEqual({ memoryBytes: 3, cpuCores: 0.3 });
  });
  it("capacity counts what a tenant uses when it is more than its plan reserves", () => {
    const config = configSchema.parse({ domain: "example.com" });
    const starter = config.plans.starter!;
    const a = allocatable({ cpus: 4, memTotalBytes: 8 * 2 ** 30, diskFreeBytes: 100 * 2 ** 30 });
    // 7168 MiB: two starters reserve 1440 (720 each, its task runner's 96 included) and 0.38
    // CPUs (0.19 each); measured at 3300 MiB each (p95), they take 6600, and a third starter's
    // 720 no longer fits (7320 > 7168) — by their plans alone it would (2160)
    const quiet = serverCapacity({ name: "s", allocatable: a, tenants: [starter, starter], use: [{ memoryMb: 300, cpu: 0.01 }, null] });
    expect(quiet.reserved).toEqual({ cpu: 0.38, memoryMb: 1440 });
    expect(quiet.used).toEqual({ cpu: 0.01, memoryMb: 300 });
    const hungry = serverCapacity({ name: "s", allocatable: a, tenants: [starter, starter], use: [{ memoryMb: 3300, cpu: 1.2 }, { memoryMb: 3300, cpu: 0.1 }] });
    // CPUs: the first's 1.2 used, the second's 0.19 reserved (above its 0.1 used)
    expect(hungry.reserved).toEqual({ cpu: 1.39, memoryMb: 6600 });
    expect(fitsResources(hungry, starter)).toMatchObject({ ok: false, short: "memory", what: "reservation" });
    expect(serverCapacity({ name: "s", allocatable: a, tenants: [starter] }).used).toBeNull();
  });
  it("a tenant's disk is its labelled volumes in the engine's `system df` (a volume not sized counts 0; unlabelled and scratch volumes are not the tenant's)", () => {
    const df = {
      Volumes: [
        { Name: "btw-acme-pgdata", Labels: { "btw.tenant": "acme" }, UsageData: { Size: 50 * MiB, RefCount: 1 } },
        { Name: "btw-acme-n8ndata", Labels: { "btw.tenant": "acme" }, UsageData: { Size: 3 * MiB, RefCount: 1 } },
        { Name: "btw-acme-redisdata", Labels: { "btw.tenant": "acme" }, UsageData: { Size: -1, RefCount: -1 } },
        { Name: "btw-beta-pgdata", Labels: { "btw.tenant": "beta" }, UsageData: { Size: 7 * MiB } },
        { Name: "btw-vfy-acme-1-pgdata", Labels: { "btw.tenant": "vfy-acme-1" }, UsageData: { Size: 9 * MiB } },
        { Name: "someone-elses", Labels: null, UsageData: { Size: 1e9 } },
        { Name: "no-usage", Labels: { "btw.tenant": "beta" }, UsageData: null },
      ],
    };
    expect(Object.fromEntries(volumeBytesByTenant(df))).toEqual({ acme: 53 * MiB, beta: 7 * MiB, "vfy-acme-1": 9 * MiB });
    expect(volumeBytesByTenant({}).size).toBe(0);
    expect(volumeBytesByTenant(null).size).toBe(0);
  });
  it("capacity sums its tenants' measured volumes per server; none measured: null", () => {
    const config = configSchema.parse({ domain: "example.com" });
    const starter = config.plans.starter!;
    const a = allocatable({ cpus: 4, memTotalBytes: 8 * 2 ** 30, diskFreeBytes: 100 * 2 ** 30 });
    expect(serverCapacity({ name: "s", allocatable: a, tenants: [starter, starter, starter], use: [{ memoryMb: 300, cpu: 0.01, diskGb: 1.25 }, { memoryMb: 300, cpu: 0.01, diskGb: 0.5 }, null] }).usedDiskGb).toBe(1.8);
    expect(serverCapacity({ name: "s", allocatable: a, tenants: [starter], use: [{ memoryMb: 300, cpu: 0.01 }] }).usedDiskGb).toBeNull();
  });
});
