import { describe, expect, it } from "vitest";
import { configSchema, type Plan } from "../../../src/config/schema.js";
import { allocatable, capacityPolicy, describeShort, DEFAULT_CAPACITY_POLICY, fitsResources, headroom, planDemand, serverCapacity, type CapacityPolicy } from "../../../src/core/capacity.js";
import { parseHostFacts } from "../../../src/core/commands/host-facts.js";

const config = configSchema.parse({ domain: "example.com" });
const plan = (name: string): Plan => config.plans[name]!;
const GiB = 2 ** 30;
// a cx33 (4 vCPU, 8 GB) as `server check` sees it
const cx33 = { cpus: 4, memTotalBytes: 8 * GiB, diskFreeBytes: 70 * GiB };

describe("a plan's demand: reservations (measured, or the plan's own) and limits", () => {
  it.each([
    // plan, reserved cpu (measured: n8n 0.1 + pg 0.05 + redis 0.02 + runner 0.02 [+ worker 0.25
    // + a second runner 0.02] — not the plan's cpuReserved, a share under contention), reserved
    // MiB (n8n 512 + pg 96 + redis 16 + runner 96 [+ worker 448 + runner 96]), limit cpu, limit
    // MiB; the runner's limits are the plan's default runner: n8n's cpus, 512 MB. A queue-mode
    // plan (business) has two runners, one beside n8n and one beside the worker.
    ["starter", 0.19, 512 + 96 + 16 + 96, 1 + 0.5 + 0.25 + 1, 768 + 256 + 128 + 512],
    ["pro", 0.19, 512 + 96 + 16 + 96, 2 + 1 + 0.5 + 2, 1536 + 512 + 256 + 512],
    ["business", 0.46, 512 + 448 + 96 + 16 + 2 * 96, 2 + 2 + 2 + 1 + 2 * 2, 1536 + 2048 + 1024 + 512 + 2 * 512],
  ])("%s", (name, rcpu, rmem, lcpu, lmem) => {
    const d = planDemand(plan(name));
    expect(d.reserved).toEqual({ cpu: rcpu, memoryMb: rmem });
    expect(d.limit).toEqual({ cpu: lcpu, memoryMb: lmem });
    expect(d.diskGb).toBe(2);
  });

  it("a plan's memoryReservedMb wins, never above the service's limit; diskReservedGb too", () => {
    const p = configSchema.parse({ domain: "example.com", plans: { starter: { n8n: { memoryReservedMb: 2000 }, postgres: { memoryReservedMb: 40 }, diskReservedGb: 5 } } }).plans.starter!;
    const d = planDemand(p);
    expect(d.reserved.memoryMb).toBe(768 + 40 + 16 + 96); // n8n capped at its 768 MiB limit; the runner keeps its measured 96
    expect(d.diskGb).toBe(5);
  });
});

describe("allocatable: the server's facts minus the platform", () => {
  it("RAM and CPUs less the platform's reserve; free disk in GB", () => {
    expect(allocatable(cx33)).toEqual({ cpu: 3.5, memoryMb: 8192 - 1024, diskFreeGb: 70 });
  });
  it("a cgroup limit below the RAM is what counts (a lab VM, a slice); v1's 'no limit' changes nothing", () => {
    expect(allocatable({ ...cx33, memLimitBytes: 3 * GiB })!.memoryMb).toBe(3072 - 1024);
    expect(allocatable({ ...cx33, memLimitBytes: 9007199254740988 * 1024 })!.memoryMb).toBe(8192 - 1024);
  });
  it("a server never checked has no known resources", () => {
    expect(allocatable(null)).toBeNull();
    expect(allocatable({ engineVersion: "26" })).toBeNull();
  });
  it("the policy comes from btw.yml's placement.resources", () => {
    const c = configSchema.parse({ domain: "example.com", placement: { resources: { platformReserve: { memoryMb: 2048 }, overcommit: { memory: 1 } } } });
    const p = capacityPolicy(c);
    expect(p).toEqual({ platformReserve: { cpu: 0.5, memoryMb: 2048 }, overcommit: { memory: 1 }, minFreeDiskGb: 10 });
    expect(capacityPolicy(config)).toEqual(DEFAULT_CAPACITY_POLICY);
  });
});

describe("the placement policy, table-tested: reservations ≤ allocatable, limits ≤ allocatable × overcommit, free disk above the floor", () => {
  const server = (tenants: string[], facts: Record<string, number> = cx33, policy?: CapacityPolicy) =>
    serverCapacity({ name: "s1", allocatable: allocatable(facts, policy), tenants: tenants.map(plan) }, policy);

  it.each([
    // what is on the server, the new plan, the result
    { on: [], add: "starter", fits: true },
    // a starter (with its runner) reserves 720 MiB and may use up to 1664 MiB
    // 5 starters + 1: limits 6 × 1664 = 9984 ≤ 7168 × 1.5 = 10752; reservations 6 × 720 = 4320 ≤ 7168
    { on: Array(5).fill("starter"), add: "starter", fits: true },
    // 6 starters + 1: limits 7 × 1664 = 11648 > 10752 (the ceiling), reservations 7 × 720 = 5040
    // still fit: memory by limit
    { on: Array(6).fill("starter"), add: "starter", fits: false, short: "memory", what: "limit" },
    // the seed's 12 units of starters on a cx33 no longer fit: that was 12 × 1664 = 19968 MiB of
    // limits and 12 × 720 = 8640 MiB of reservations on 8 GiB
    { on: Array(11).fill("starter"), add: "starter", fits: false, short: "memory" },
    // a pro may use up to 2816 MiB (its runner included): three fit (8448 ≤ 10752), four do not (11264)
    { on: ["pro", "pro"], add: "pro", fits: true },
    { on: ["pro", "pro", "pro"], add: "pro", fits: false, short: "memory", what: "limit" },
    // a business (two runners) may use up to 6144 MiB: one fits, two do not (12288 > 10752)
    // while their reservations would (2 × 1264 = 2528 ≤ 7168)
    { on: [], add: "business", fits: true },
    { on: ["business"], add: "business", fits: false, short: "memory", what: "limit" },
  ])("$on.length × … + $add → fits $fits $short $what", ({ on, add, fits, short, what }) => {
    const f = fitsResources(server(on), plan(add));
    expect(f.ok).toBe(fits);
    if (!f.ok) expect(f).toMatchObject({ short, ...(what ? { what } : {}) });
  });

  it("CPU: reservations above allocatable are refused even when memory has room", () => {
    const small = { cpus: 1, memTotalBytes: 64 * GiB, diskFreeBytes: 500 * GiB };
    // allocatable 0.5 CPUs; a business reserves 0.46 (its two runners' 0.02 each included): one
    // fits, a second does not
    expect(fitsResources(server([], small), plan("business")).ok).toBe(true);
    const f = fitsResources(server(["business"], small), plan("business"));
    expect(f).toMatchObject({ ok: false, short: "cpu", what: "reservation", need: 0.46, have: 0.04, unit: "CPUs" });
    expect(describeShort("s1", "business", f as Exclude<typeof f, { ok: true }>)).toBe("server 's1' is short of CPU: a business tenant reserves 0.46 CPUs, 0.04 CPUs left of what the server can give");
  });

  it("disk: a tenant needs its reservation above the floor the server keeps free", () => {
    const f = fitsResources(server([], { ...cx33, diskFreeBytes: 11 * GiB }), plan("starter"));
    expect(f).toMatchObject({ ok: false, short: "disk", need: 12, have: 11 });
    expect(describeShort("s1", "starter", f as Exclude<typeof f, { ok: true }>)).toBe("server 's1' is short of disk: a starter tenant needs 12 GB free (its 2 GB and the 10 GB kept free), it has 11 GB");
  });

  it("an overcommit factor of 1 makes limits count in full", () => {
    const strict = { ...DEFAULT_CAPACITY_POLICY, overcommit: { memory: 1 } };
    // 7168 MiB allocatable: 4 starters' limits (runner included) = 4 × 1664 = 6656, a 5th would
    // be 8320 (with 1.5 it would fit: 10752)
    expect(headroom(server(Array(4).fill("starter"), cx33, strict), plan("starter"), strict)).toBe(0);
    expect(headroom(server(Array(3).fill("starter"), cx33, strict), plan("starter"), strict)).toBe(1);
  });

  it("headroom per plan, and what a server over its policy reports", () => {
    // by memory limits (runners included) under the 10752 MiB ceiling: ⌊10752 / 1664⌋ = 6
    // starters, ⌊10752 / 2816⌋ = 3 pros, ⌊10752 / 6144⌋ = 1 business (reservations would allow
    // ⌊7168 / 720⌋ = 9 starters or pros, ⌊7168 / 1264⌋ = 5 businesses)
    expect(headroom(server([]), plan("starter"))).toBe(6);
    expect(headroom(server([]), plan("pro"))).toBe(3);
    expect(headroom(server([]), plan("business"))).toBe(1);
    // 12 starters reserve 12 × 0.19 = 2.28 CPUs (under 3.5) and 12 × 720 = 8640 MiB (over 7168)
    const over = server(Array(12).fill("starter"));
    expect(over.over).toEqual(["memory"]);
    expect(over.reserved).toEqual({ cpu: 2.28, memoryMb: 12 * 720 });
    expect(over.free).toEqual({ cpu: 1.22, memoryMb: 7168 - 12 * 720 });
    expect(headroom(over, plan("starter"))).toBe(0);
  });

  it("a server never checked: units decide alone (resources fit, headroom unknown)", () => {
    const c = serverCapacity({ name: "new", allocatable: null, tenants: [plan("pro")] });
    expect(fitsResources(c, plan("business"))).toEqual({ ok: true });
    expect(headroom(c, plan("starter"))).toBeNull();
    expect(c.over).toEqual([]);
  });

  it("the refusal names the resource and the figures", () => {
    // 3 pros' limits = 3 × 2816 = 8448 MiB (runners included): 10752 − 8448 = 2304 left
    const f = fitsResources(server(["pro", "pro", "pro"]), plan("pro"));
    expect(describeShort("s1", "pro", f as Exclude<typeof f, { ok: true }>)).toBe("server 's1' is short of memory: a pro tenant may use up to 2816 MiB, 2304 MiB left under the overcommit ceiling");
  });
});

describe("host facts: a cgroup's limits", () => {
  const base = "cpus=4\nmem_total_kb=8000000\nmem_available_kb=7000000\ndisk_path=/var/lib/docker\ndisk_total_kb=80000000\ndisk_free_kb=70000000\nkernel=6.1\narch=x86_64\nos=Debian\n";
  it("are read when printed, absent otherwise", () => {
    expect(parseHostFacts(base)).not.toHaveProperty("memLimitBytes");
    const f = parseHostFacts(`${base}mem_limit_kb=3145728\ncpu_limit_milli=1500\n`);
    expect(f.memLimitBytes).toBe(3 * GiB);
    expect(f.cpuLimit).toBe(1.5);
    // cgroup v1's "no limit" (a huge number) and a quota above the CPUs are no limits
    const none = parseHostFacts(`${base}mem_limit_kb=9007199254740988\ncpu_limit_milli=8000\n`);
    expect(none).not.toHaveProperty("memLimitBytes");
    expect(none).not.toHaveProperty("cpuLimit");
  });
});
