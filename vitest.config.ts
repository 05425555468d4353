import { defineConfig } from "vitest/config";

const E2E_LANES = Number(process.env.BTW_E2E_LANES ?? "2");

// Three projects: unit (pure, no I/O), integration (real PostgreSQL and a loopback sshd,
// started by the set-up), e2e (the lab: Docker-in-Docker VMs, registry, n8n). Each runs
// in CI; none skips itself when its dependencies are missing — the set-up builds them.
export default defineConfig({
  test: {
    projects: [
      {
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 10_000 },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/integration-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/e2e/global-setup.ts"],
          setupFiles: ["test/e2e/support/lane-setup.ts"],
          testTimeout: 600_000,
          hookTimeout: 1_200_000,
          // Lanes (issue 21): up to BTW_E2E_LANES files at once, each on a server pair of its
          // own (test/e2e/support/lanes.ts). After unit and integration (groupOrder), which
          // keep their own worker count.
          maxWorkers: E2E_LANES,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
