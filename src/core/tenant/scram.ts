import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { TENANT_DB_USER } from "./layout.js";

// A tenant's new database password reaches Postgres as a SCRAM-SHA-256 verifier, computed
// here: the plaintext never leaves btw, not even on psql's stdin or in a server log line.
// The format is the one Postgres stores in pg_authid.rolpassword (RFC 5803):
//   SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>

export function scramVerifier(password: string, salt: Buffer, iterations = 4096): string {
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** SQL for psql's stdin; the verifier is base64 and `$:` only, so the literal needs no escaping beyond the check. */
export function alterRolePasswordSql(verifier: string, role = TENANT_DB_USER): string {
  if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier)) throw new Error("not a SCRAM-SHA-256 verifier");
  if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new Error(`invalid role name ${role}`);
  return `ALTER ROLE ${role} PASSWORD '${verifier}';\n`;
}

/** psql in the tenant's Postgres container, reading SQL from stdin (`-f -`): nothing in argv. */
export function dockerPsqlStdin(container: string, database: string, user = TENANT_DB_USER): string[] {
  return ["docker", "exec", "-i", container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", user, "-d", database, "-f", "-"];
}
