import type { TestProject } from "vitest/node";
import { labConfig } from "../lab/config.js";
import { labUp, type LabInfo } from "../lab/lab.js";

// The e2e suite runs against the lab and never skips itself: this set-up builds whatever is
// missing (first time on a machine: ~8–10 min) or reuses a running lab (seconds), then hands
// the lab's description to the tests. The lab stays up afterwards for the next run; tests
// clean up what they create (test/e2e/support/lab.ts).

declare module "vitest" {
  export interface ProvidedContext {
    lab: LabInfo;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const servers = Number(process.env.BTW_LAB_SERVERS ?? "2");
  const lab = await labUp(labConfig(), { servers, prepull: true });
  project.provide("lab", lab);
}
