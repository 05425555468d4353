import { spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloneInput } from "../../../src/core/tenant/prepared-db.js";
import { asAccount, ensurePostgresInstalled, runAsAccount } from "../../support/postgres.js";

// The clone's identity renewal as it runs on a server: the real `postgres --single -j` on a
// data directory, fed cloneInput() on stdin (core/tenant/prepared-db.ts). The schema is the
// part of n8n's that a fresh migration fills: the shell owner, its personal project, and the
// relation between them, with n8n's foreign keys (no ON UPDATE CASCADE).

const SCHEMA = `CREATE TABLE "user" (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email varchar(255), "roleSlug" varchar(128) NOT NULL);

CREATE TABLE project (id varchar(36) PRIMARY KEY, name varchar(255) NOT NULL, type varchar(36) NOT NULL, "creatorId" uuid REFERENCES "user"(id) ON DELETE SET NULL);

CREATE TABLE project_relation ("projectId" varchar(36) NOT NULL REFERENCES project(id) ON DELETE CASCADE, "userId" uuid NOT NULL REFERENCES "user"(id) ON DELETE CASCADE, role varchar NOT NULL, PRIMARY KEY ("projectId", "userId"));

INSERT INTO "user" (id, "roleSlug") VALUES ('11111111-1111-4111-8111-111111111111', 'global:owner');

INSERT INTO project (id, name, type, "creatorId") VALUES ('AAAAAAAAAAAAAAAA', 'Unnamed Project', 'personal', '11111111-1111-4111-8111-111111111111');

INSERT INTO project_relation VALUES ('AAAAAAAAAAAAAAAA', '11111111-1111-4111-8111-111111111111', 'project:personalOwner');

`;

describe("prepared database: the clone's identity renewal in single-user mode", () => {
  let dir: string;
  let data: string;
  const bins = ensurePostgresInstalled();
  const account = runAsAccount();
  const single = (db: string, input: string) => {
    const [cmd, args] = asAccount(account, [bins.postgres, "--single", "-j", "-D", data, "-c", "log_min_error_statement=panic", "-c", "log_min_messages=error", db]);
    return spawnSync(cmd, args, { input, encoding: "utf8" });
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "btw-prepared-"));
    if (account) chownSync(dir, account.uid, account.gid);
    data = join(dir, "data");
    const [cmd, args] = asAccount(account, [bins.initdb, "-D", data, "-U", "n8n", "--auth=trust", "--no-sync"]);
    const init = spawnSync(cmd, args, { encoding: "utf8" });
    expect(init.status, init.stderr).toBe(0);
    expect(single("postgres", "CREATE DATABASE n8n;\n\n").status).toBe(0);
    const schema = single("n8n", SCHEMA);
    expect(schema.status, schema.stderr).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const read = () => {
    const r = single("n8n", `SELECT 'row:' || (SELECT id::text FROM "user") || '|' || (SELECT id FROM project) || '|' || (SELECT "creatorId"::text FROM project) || '|' || (SELECT "projectId" || '/' || "userId"::text FROM project_relation) || '|' || (SELECT rolpassword FROM pg_authid WHERE rolname = 'n8n') AS r;\n\n`);
    const m = /"row:([^"]*)"/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const [user, project, creator, relation, password] = m![1]!.split("|");
    return { user: user!, project: project!, creator: creator!, relation: relation!, password: password! };
  };

  it("sets the tenant's password and gives the owner and its project new ids, foreign keys following; again on a second clone, other ids", () => {
    const r = single("n8n", cloneInput("Tenant1Password0123456789abcdef"));
    expect(r.stdout).toContain("btw-clone-ok");
    const first = read();
    expect(first.user).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.user).not.toBe("11111111-1111-4111-8111-111111111111");
    expect(first.project).toMatch(/^[0-9a-f]{16}$/);
    expect(first.creator).toBe(first.user);
    expect(first.relation).toBe(`${first.project}/${first.user}`);
    expect(first.password).toMatch(/^SCRAM-SHA-256\$/);

    const again = single("n8n", cloneInput("Tenant2Password0123456789abcdef"));
    expect(again.stdout).toContain("btw-clone-ok");
    const second = read();
    expect(second.user).not.toBe(first.user);
    expect(second.project).not.toBe(first.project);
    expect(second.password).not.toBe(first.password);
    expect(second.relation).toBe(`${second.project}/${second.user}`);
  });

  it("says nothing is renewed (no marker) when a statement fails, and never echoes the password", () => {
    // database postgres has no n8n tables: the renewal refuses rather than skip them
    const r = single("postgres", cloneInput("Tenant3Password0123456789abcdef"));
    expect(r.stdout).not.toContain("btw-clone-ok");
    expect(`${r.stdout}${r.stderr}`).toMatch(/no table public.user in the prepared database/);
    expect(`${r.stdout}${r.stderr}`).not.toContain("Tenant3Password0123456789abcdef");
  });

  it("refuses a password btw did not generate before anything runs", () => {
    expect(() => cloneInput("x'; DROP ROLE n8n; --")).toThrow(/not one btw generated/);
  });
});
