// globalSetup of the "integration" project: one PostgreSQL server for the whole run.
// Only Postgres lives here — the SSH tests start their own sshd per file.

import type { TestProject } from "vitest/node";
import { startPostgres } from "./postgres.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const pg = await startPostgres();
  if (process.env.BTW_TEST_VERBOSE) {
    process.stderr.write(`integration-setup: postgres on ${pg.url} in ${Date.now() - started} ms\n`);
  }
  project.provide("pgBaseUrl", pg.url);
  return () => pg.stop();
}
