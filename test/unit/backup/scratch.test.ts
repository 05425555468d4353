import { describe, expect, it } from "vitest";
import { parseScratchContainers, QUARANTINE_SQL, SCRATCH_MAX_AGE_MS, scratchContainers, scratchOwner, staleScratch } from "../../../src/core/backup/scratch.js";

const NOW = Date.parse("2026-12-01T15:00:00Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe("scratch stacks", () => {
  it("lists containers marked btw.scratch=1 with their marks", () => {
    expect(scratchContainers()).toEqual([
      "docker", "ps", "-a", "--filter", "label=btw.scratch=1",
      "--format", '{{.Label "btw.tenant"}}|{{.Label "btw.state"}}|{{.Label "btw.created-at"}}|{{.Label "btw.owner"}}',
    ]);
  });

  it("one entry per stack, scratch names only (a mislabelled real tenant is never swept)", () => {
    const out = ["vfy-0a1b2c3d|s1|2026-12-01T14:00:00.000Z|laptop:12", "vfy-0a1b2c3d|s1|2026-12-01T14:00:00.000Z|laptop:12", "shop|s1|2026-12-01T14:00:00.000Z|laptop:12", ""].join("\n");
    expect(parseScratchContainers(out)).toEqual([{ slug: "vfy-0a1b2c3d", state: "s1", createdAt: "2026-12-01T14:00:00.000Z", owner: "laptop:12" }]);
  });

  it("owner is host:pid, the host made label-safe", () => {
    expect(scratchOwner("laptop.local", 42)).toBe("laptop.local:42");
    expect(scratchOwner("my host!", 7)).toBe("my-host-:7");
  });

  it("stale: a dead owner on this machine, an old stack, an unreadable time; a live or foreign young one stays", () => {
    const alive = new Set([100]);
    const stacks = [
      { slug: "vfy-00000001", state: "s", createdAt: ago(60_000), owner: "me:100" },
      { slug: "vfy-00000002", state: "s", createdAt: ago(60_000), owner: "me:200" },
      { slug: "vfy-00000003", state: "s", createdAt: ago(SCRATCH_MAX_AGE_MS + 60_000), owner: "me:100" },
      { slug: "vfy-00000004", state: "s", createdAt: ago(60_000), owner: "other:200" },
      { slug: "vfy-00000005", state: "s", createdAt: "", owner: "other:200" },
    ];
    expect(staleScratch(stacks, { now: NOW, host: "me", isAlive: (p) => alive.has(p) }).map((s) => [s.slug, s.reason])).toEqual([
      ["vfy-00000002", "its verify (pid 200) is gone"],
      ["vfy-00000003", `${SCRATCH_MAX_AGE_MS / 60_000 + 1} min old`],
      ["vfy-00000005", "no creation time"],
    ]);
  });

  it("quarantine SQL deactivates workflows (1.x active, 2.x activeVersionId), waits and webhooks", () => {
    expect(QUARANTINE_SQL).toContain("update workflow_entity set active = false");
    expect(QUARANTINE_SQL).toContain('"activeVersionId" = null');
    expect(QUARANTINE_SQL).toContain('"waitTill" = null');
    expect(QUARANTINE_SQL).toContain("delete from webhook_entity");
  });
});
