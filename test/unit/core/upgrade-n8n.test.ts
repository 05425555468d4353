// The order of an n8n upgrade (issue 22, item 3): the backup a failed upgrade restores is taken
// once the tenant is quiet — after the pull, the maintenance page and n8n's stop — so nothing
// written meanwhile is lost by the rollback. The flow runs this very list (runN8nUpgrade).
import { describe, expect, it } from "vitest";
import { N8N_STEP_TITLES, N8N_UPGRADE_PHASES, describeN8nUpgrade, n8nResumePhase, n8nUpgradeSteps, runN8nUpgrade, type N8nPhase, type N8nStep } from "../../../src/core/upgrade/n8n.js";

const all = n8nUpgradeSteps("prepared");
const at = (s: N8nStep) => all.indexOf(s);
const phaseOf = (s: N8nStep) => N8N_UPGRADE_PHASES.find((p) => p.steps.includes(s))!.phase;

describe("the order of an n8n upgrade", () => {
  it("pulls first, while the tenant serves; then the maintenance page and n8n stopped; then the backup; then the recreate", () => {
    expect(all).toEqual(["inspect", "pull", "maintenance", "stop", "backup", "recreate", "checks", "record"]);
  });

  it("takes the backup after the maintenance page and the stop, and before anything on the new image", () => {
    expect(at("backup")).toBeGreaterThan(at("maintenance"));
    expect(at("backup")).toBeGreaterThan(at("stop"));
    expect(at("backup")).toBeLessThan(at("recreate"));
  });

  it("pulls (up to 900 s) and notes the published workflows before the maintenance page: the tenant serves meanwhile", () => {
    expect(at("pull")).toBeLessThan(at("maintenance"));
    expect(at("inspect")).toBeLessThan(at("stop"));
  });

  it("journals the backup in a phase of its own before the recreate: a failure after it restores a quiet backup, before it nothing is restored", () => {
    expect(phaseOf("pull")).toBe("prepared");
    expect([phaseOf("maintenance"), phaseOf("stop"), phaseOf("backup")]).toEqual(["pulled", "pulled", "pulled"]);
    // the backup is the last step of its phase: "quiesced" is journaled only with it done
    expect(N8N_UPGRADE_PHASES.find((p) => p.phase === "pulled")!.steps.at(-1)).toBe("backup");
    expect(phaseOf("recreate")).toBe("quiesced");
  });

  it("resumes a killed upgrade from its phase's first step", () => {
    expect(n8nUpgradeSteps("pulled")).toEqual(["maintenance", "stop", "backup", "recreate", "checks", "record"]);
    expect(n8nUpgradeSteps("quiesced")).toEqual(["recreate", "checks", "record"]);
    expect(n8nUpgradeSteps("rolling-back")).toEqual([]);
  });

  it("reads the phases of journals written before this order: a backup taken while serving is taken again, quietly", () => {
    expect(n8nResumePhase("backed-up")).toBe("pulled");
    expect(n8nResumePhase("recreated")).toBe("quiesced");
    for (const p of ["prepared", "pulled", "quiesced", "rolling-back"] as const) expect(n8nResumePhase(p)).toBe(p);
    expect(() => n8nResumePhase("dumped")).toThrow(/unknown n8n upgrade phase "dumped"/);
  });

  it("runs the steps in that order and journals each phase once its steps are done", async () => {
    for (const [from, expected] of [
      ["prepared", ["inspect", "pull", "=pulled", "maintenance", "stop", "backup", "=quiesced", "recreate", "checks", "record"]],
      ["pulled", ["maintenance", "stop", "backup", "=quiesced", "recreate", "checks", "record"]],
      ["quiesced", ["recreate", "checks", "record"]],
    ] as Array<[N8nPhase, string[]]>) {
      const seen: string[] = [];
      await runN8nUpgrade(from, async (s) => void seen.push(s), async (p) => void seen.push(`=${p}`));
      expect(seen, `from ${from}`).toEqual(expected);
    }
  });

  it("stops at a failing step: the phase after it is not journaled", async () => {
    const seen: string[] = [];
    const run = runN8nUpgrade(
      "pulled",
      async (s) => {
        seen.push(s);
        if (s === "backup") throw new Error("storage down");
      },
      async (p) => void seen.push(`=${p}`),
    );
    await expect(run).rejects.toThrow("storage down");
    expect(seen).toEqual(["maintenance", "stop", "backup"]);
  });

  it("every step has a distinct title (a kill test matches them) and the dry run tells the same order", () => {
    const titles = all.map((s) => N8N_STEP_TITLES[s]);
    expect(new Set(titles).size).toBe(titles.length);
    for (const t of titles) expect(titles.filter((o) => o !== t && o.includes(t))).toEqual([]);
    const line = describeN8nUpgrade();
    expect(line.indexOf("pull")).toBeLessThan(line.indexOf("maintenance page"));
    expect(line.indexOf("maintenance page")).toBeLessThan(line.indexOf("backup"));
    expect(line.indexOf("backup")).toBeLessThan(line.indexOf("recreated"));
  });
});
