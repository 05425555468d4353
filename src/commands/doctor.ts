import { accessSync, constants, existsSync } from "node:fs";
import type { Ctx } from "../cli/context.js";
import type { Handler } from "../cli/program.js";
import { isBtwError } from "../errors.js";

type Level = "ok" | "warn" | "fail";
interface Check {
  check: string;
  level: Level;
  detail: string;
  fix?: string;
}

// Read-only: doctor looks at everything and changes nothing (server facts are probed, not
// recorded). Each finding says how to fix it. Exit 1 when anything fails. The one repair it
// makes, only with --fix: removing stale scratch stacks (a crashed verify's leftovers).
const handler: Handler = async (ctx, _args, opts) => {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    ctx.out.verbose(`${c.level} ${c.check}`);
  };

  const configOk = await step(add, "config", () => {
    const { source, overrides } = ctx.loadedConfig();
    return `${source.path} (${source.via})${overrides.length ? `, env overrides: ${overrides.join(", ")}` : ""}`;
  });

  await step(add, "master key", async () => {
    const key = await ctx.master();
    return `id ${key.id} from ${key.source === "file" ? `${ctx.home}/master.key` : "BTW_MASTER_KEY"}`;
  });

  let db: Awaited<ReturnType<Ctx["db"]>> | null = null;
  if (configOk) {
    await step(add, "state", async () => {
      db = await ctx.db();
      return `${db.driver}, schema up to date`;
    });
  }

  if (db) {
    await step(add, "store", async () => {
      const { storeHealth } = await import("../state/embedded/health.js");
      return storeHealth(db!, ctx.home);
    });
    await step(add, "secrets", async () => {
      const key = await ctx.master();
      const r = await db!.query<{ keyId: string; n: number }>(
        `select key_id as "keyId", count(*)::int as n from (select key_id from tenant_secrets union all select key_id from server_secrets) s group by key_id`,
      );
      const { keyById } = await import("../secrets/master-key.js");
      const foreign = r.rows.filter((row) => !keyById(key, row.keyId)); // retired keys in the keyring still open theirs
      if (foreign.length) {
        throw Object.assign(new Error(`${foreign.reduce((a, b) => a + b.n, 0)} secret(s) sealed with another master key (${foreign.map((f) => f.keyId).join(", ")})`), {
          hint: "use the master key those secrets were sealed with (BTW_MASTER_KEY or $BTW_HOME/master.key)",
        });
      }
      return `${r.rows.reduce((a, b) => a + b.n, 0)} sealed secret(s), all under keys this host holds`;
    });
    await step(add, "rotations", async () => {
      // an interrupted `key rotate` or `tenant secrets rotate` is finished by running it again
      const { existsSync } = await import("node:fs");
      const { masterKeyPath } = await import("../secrets/master-key.js");
      const pending = await db!.query<{ slug: string }>(
        `select distinct t.slug from tenant_secrets s join tenants t on t.id = s.tenant_id where s.name like '%\\_NEXT' order by 1`,
      );
      const problems = [
        ...(existsSync(`${masterKeyPath(ctx.home)}.next`) ? ["a master key rotation was interrupted"] : []),
        ...pending.rows.map((r) => `the secrets rotation of ${r.slug} was interrupted`),
      ];
      if (problems.length) {
        throw Object.assign(new Error(problems.join("; ")), {
          level: "warn",
          hint: [...(problems[0]!.startsWith("a master") ? ["`btw key rotate --yes`"] : []), ...pending.rows.map((r) => `\`btw tenant secrets rotate ${r.slug}\``)].join(", then "),
        });
      }
      return "none interrupted";
    });
  }

  await step(add, "ssh", async () => {
    const { execa } = await import("execa");
    const v = await execa("ssh", ["-V"], { reject: false, all: true });
    if (v.exitCode !== 0) throw Object.assign(new Error("the OpenSSH client is not installed"), { hint: "apt-get install openssh-client" });
    const agent = ctx.env.SSH_AUTH_SOCK && existsSync(ctx.env.SSH_AUTH_SOCK) ? "agent available" : "no ssh-agent";
    const key = configOk ? ctx.config.ssh.identityFile : undefined;
    if (key) accessSync(key, constants.R_OK);
    return `${String(v.all).trim()}, ${agent}${key ? `, key ${key}` : ""}`;
  });

  if (db) {
    const { listServers } = await import("../state/servers.js");
    const servers = await listServers(db);
    if (servers.length === 0) add({ check: "servers", level: "warn", detail: "no servers registered", fix: "btw server add <name> --host <addr>" });
    const { probeServer } = await import("../remote/probe-server.js");
    const { judgeServer } = await import("../core/server/readiness.js");
    const { expectedIsolation } = await import("../ops/server/isolation.js");
    const { sshFor } = await import("../ops/server/context.js");
    await Promise.all(
      servers.map(async (s) => {
        let isolation: import("../core/server/isolation-check.js").IsolationCheck | undefined;
        const reachable = await step(add, `server ${s.name}`, async () => {
          if (s.sshKeyPath) accessSync(s.sshKeyPath, constants.R_OK);
          const expected = await expectedIsolation(db!, ctx.config, s);
          const verdict = judgeServer(s.name, await probeServer(await sshFor(ctx, s), { isolation: expected !== null }), expected);
          isolation = verdict.isolation;
          // the isolation rules get their own line below, with their fix
          const problems = verdict.problems.filter((p) => !verdict.isolation?.problems.includes(p));
          if (problems.length) throw Object.assign(new Error(problems.join("; ")), { level: verdict.status === "degraded" ? "warn" : "fail" });
          return `reachable, ${s.tenantCount} tenant(s), ${s.usedCapacity}/${s.capacity} capacity`;
        });
        if (isolation) {
          const found = isolation;
          // a server whose rules are not btw's lets tenants reach what they must not: a failure, whichever way
          await step(add, `isolation ${s.name}`, () => {
            if (found.state === "in-place") return "the tenant isolation rules are in force, as btw renders them";
            throw Object.assign(new Error(found.problems.map((p) => p.replace(/[;:] run `btw server isolate [^`]+`( \(as root\))?$/, "")).join("; ")), { hint: `btw server isolate ${s.name}` });
          });
        }
        if (reachable) await scratchStep(ctx, add, s, opts.fix === true);
      }),
    );
  }

  const failed = checks.filter((c) => c.level === "fail").length;
  const warned = checks.filter((c) => c.level === "warn").length;
  ctx.out.result({ ok: failed === 0, checks }, () => {
    const mark = (l: Level) => (l === "ok" ? ctx.out.paint("ok  ", 32) : l === "warn" ? ctx.out.paint("warn", 33) : ctx.out.paint("FAIL", 31));
    const lines = checks.flatMap((c) => [`${mark(c.level)}  ${c.check.padEnd(16)} ${c.detail}`, ...(c.fix ? [`      ${"".padEnd(16)} fix: ${c.fix}`] : [])]);
    lines.push(failed ? `${failed} problem(s), ${warned} warning(s)` : warned ? `no problems, ${warned} warning(s)` : "everything looks right");
    return lines.join("\n");
  });
  return failed ? 1 : 0;
};
export default handler;

/** Stale scratch stacks on one server: a warning naming them, or removed with --fix. */
async function scratchStep(ctx: Ctx, add: (c: Check) => void, s: Parameters<typeof import("../ops/tenant-context.js").hostFor>[1], fix: boolean): Promise<void> {
  await step(add, `scratch ${s.name}`, async () => {
    const { hostFor } = await import("../ops/tenant-context.js");
    const { findStaleScratch, removeScratch } = await import("../ops/scratch-stacks.js");
    const host = await hostFor(ctx, s);
    const stale = await findStaleScratch(host);
    if (stale.length === 0) return "no stale scratch stacks";
    const names = stale.map((x) => `${x.slug} (${x.reason})`).join(", ");
    if (fix) {
      for (const x of stale) await removeScratch(host, x.slug);
      return `removed ${stale.length} stale scratch stack(s): ${names}`;
    }
    throw Object.assign(new Error(`${stale.length} stale scratch stack(s) left by a crashed verify: ${names}`), { level: "warn" as const, hint: "btw doctor --fix (the next backup verify on that server removes them too)" });
  });
}

async function step(add: (c: Check) => void, check: string, fn: () => Promise<string> | string): Promise<boolean> {
  try {
    add({ check, level: "ok", detail: await fn() });
    return true;
  } catch (e) {
    const err = e as Error & { hint?: string; level?: Level };
    const first = err.message.split("\n")[0]!;
    const detail = isBtwError(e) && err.message.includes("\n") ? `${first} ${err.message.split("\n").slice(1).map((s) => s.trim()).join("; ")}` : first;
    add({ check, level: err.level ?? "fail", detail, ...(err.hint ? { fix: err.hint } : {}) });
    return false;
  }
}
