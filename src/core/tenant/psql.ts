// psql in a tenant's Postgres container with the SQL on stdin (never in argv), unaligned
// tuples-only output, stopping at the first error. Pure argv builder.

import { TENANT_DB_NAME, TENANT_DB_USER } from "./layout.js";

export function psqlQuery(container: string): string[] {
  return ["docker", "exec", "-i", container, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", TENANT_DB_USER, "-d", TENANT_DB_NAME];
}
