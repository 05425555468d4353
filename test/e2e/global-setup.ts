import type { TestProject } from "vitest/node";
import { labConfig } from "../lab/config.js";
import { labUp, type LabInfo } from "../lab/lab.js";
import { SERVERS_PER_LANE, e2eLanes } from "./support/lab.js";

// The e2e suite runs against the lab and never skips itself: this set-up builds the demo's
// images if missing (first time on a machine: ~5 min; the files that need the others build
// them: ensureLabImages, freshBareServer) or reuses a running lab (seconds), then hands the
// lab's description to the tests. The lab stays up afterwards for the next run; tests
// clean up what they create (test/e2e/support/lab.ts).

declare module "vitest" {
  export interface ProvidedContext {
    lab: LabInfo;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  // a pair of servers per lane (test/e2e/support/lab.ts): lab-1…lab-4 for the default two lanes
  const servers = Math.max(Number(process.env.BTW_LAB_SERVERS ?? "0"), e2eLanes() * SERVERS_PER_LANE);
  const lab = await labUp(labConfig(), { servers, prepull: true });
  project.provide("lab", lab);
}
