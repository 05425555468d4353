import { afterAll, beforeAll } from "vitest";
import { releaseLane, takeLane } from "./lanes.js";

// Every e2e file: a lane (a lab server pair of its own) before its own hooks run, given back
// after its own afterAll (vitest runs after-hooks in the reverse order of registration).
beforeAll(async () => {
  await takeLane();
}, 3 * 60 * 60_000);

afterAll(() => {
  releaseLane();
});
