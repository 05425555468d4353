import { isIP } from "node:net";
import { accessSync, constants } from "node:fs";
import type { Handler } from "../../cli/program.js";
import { expandPath } from "../../config/load.js";
import { PRIVATE_IP_LABEL, ROLE_LABEL } from "../../core/monitoring/targets.js";
import { hostProblem } from "../../core/server/host.js";
import { nameProblem, SERVER_NAME } from "../../core/names.js";
import { ConflictError, UsageError } from "../../errors.js";
import type { Verdict } from "../../core/server/readiness.js";
import type { ServerStatus } from "../../state/servers.js";
import { isolationInPlace } from "../../core/server/isolation-check.js";
import { sshFor } from "../../ops/server/context.js";
import { checkAndRecord, factsOf } from "./shared.js";

// Registers a server. By default it connects first (pinning the host key on first contact)
// and records its facts; a server that cannot be reached is not registered, and a key pinned
// during the failed attempt is forgotten again, so bad input leaves no trace. A server whose
// Docker is ready gets the tenant isolation rules next (`server isolate`), then is checked
// again: it takes tenants only once a check found them in force. Without Docker, `server
// bootstrap` installs both; with --no-verify or --no-isolate, `server isolate` does.
const handler: Handler = async (ctx, [name], opts) => {
  const serverName = String(name);
  const problem = nameProblem(serverName, SERVER_NAME);
  if (problem) throw new UsageError(problem);
  const host = String(opts.host);
  const hostIssue = hostProblem(host);
  if (hostIssue) throw new UsageError(hostIssue);
  const port = (opts.port as number | undefined) ?? ctx.config.ssh.port;
  const user = (opts.user as string | undefined) ?? ctx.config.ssh.user;
  const sshKeyPath = typeof opts.sshKey === "string" ? expandPath(opts.sshKey, ctx.env) : null;
  if (sshKeyPath) {
    try {
      accessSync(sshKeyPath, constants.R_OK);
    } catch {
      throw new UsageError(`--ssh-key ${sshKeyPath} is not a readable file`, { hint: "pass the private key's path (not the .pub)" });
    }
  }
  const capacity = (opts.capacity as number | undefined) ?? ctx.config.placement.defaultCapacity;

  const db = await ctx.db();
  const servers = await import("../../state/servers.js");
  if (await servers.getServerByName(db, serverName)) {
    throw new ConflictError(`server '${serverName}' already exists`, { code: "server-exists", hint: `\`btw server show ${serverName}\`` });
  }
  const same = (await servers.listServers(db)).find((s) => s.host === host && s.port === port);
  if (same) throw new ConflictError(`${host}:${port} is already registered as server '${same.name}'`, { code: "server-exists" });

  // the role infra apply records for the servers it makes (btw-role), for servers added by hand
  const labels: Record<string, string> = typeof opts.role === "string" ? { [ROLE_LABEL]: opts.role } : {};
  if (typeof opts.privateIp === "string") {
    const ip = opts.privateIp;
    // an address, never a name: the proxy publishes on it and the edge dials it
    if (isIP(ip) === 0) {
      throw new UsageError(`--private-ip ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`, { hint: "pass the server's address on the private network, e.g. 10.0.1.11" });
    }
    labels[PRIVATE_IP_LABEL] = ip;
  }
  const plan = { name: serverName, host, port, sshUser: user, sshKeyPath, capacity, labels, verify: opts.verify !== false, isolate: opts.verify !== false && opts.isolate !== false };
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, server: plan }, () =>
      `would register server ${serverName} (${user}@${host}:${port}, capacity ${capacity})` +
      (plan.verify ? ", after connecting and pinning its host key" : ", without connecting") +
      (plan.isolate ? "; then, if its Docker is ready, install the tenant isolation rules (/opt/btw/isolation/apply.sh) and check them" : "; it takes no tenants until `btw server isolate`"),
    );
    return;
  }

  let facts: Record<string, unknown> | null = null;
  let status: ServerStatus = "new";
  let verdict: Verdict | null = null;
  if (plan.verify) {
    const { forgetHostKeys, listHostKeys } = await import("../../state/host-keys.js");
    const knownBefore = (await listHostKeys(db, { host, port })).length > 0;
    const { probeServer } = await import("../../remote/probe-server.js");
    const { judgeServer } = await import("../../core/server/readiness.js");
    const { expectedIsolation } = await import("../../ops/server/isolation.js");
    try {
      const expected = await expectedIsolation(db, ctx.config, { id: null, labels });
      const probe = await probeServer(await sshFor(ctx, { name: serverName, host, port, sshUser: user, sshKeyPath }), { isolation: expected !== null });
      verdict = judgeServer(serverName, probe, expected);
      facts = factsOf(probe, verdict);
      status = verdict.status === "needs-bootstrap" ? "new" : "active";
    } catch (e) {
      if (!knownBefore) await forgetHostKeys(db, host, port); // a server not added leaves no pin
      throw e;
    }
  }

  let row = await db.transaction(async (tx) => {
    const inserted = await servers.insertServer(tx, { name: serverName, host, port, sshUser: user, sshKeyPath, capacity, labels, status });
    if (facts) await servers.updateServerFacts(tx, inserted.id, facts);
    return inserted;
  });
  let isolated = false;
  if (plan.isolate && verdict?.isolation && verdict.isolation.state !== "in-place" && verdict.status !== "needs-bootstrap") {
    // Docker answers, btw's rules are not in force (none, or another state's): install them,
    // then look again (the check records what placement reads). A failure keeps the server,
    // refused for tenants.
    try {
      const { Host } = await import("../../ops/host.js");
      const { ensureIsolation } = await import("../../ops/server/isolation.js");
      const r = await ensureIsolation(new Host(serverName, await sshFor(ctx, row)), db, ctx.config, row.id);
      isolated = true;
      if (!r.persistent) ctx.out.warn(`${serverName} has no systemd: the tenant isolation rules are applied but not re-applied at boot; re-run \`btw server isolate ${serverName}\` after a reboot`);
    } catch (e) {
      ctx.out.warn(`the tenant isolation rules could not be installed on ${serverName}: ${(e as Error).message.split("\n")[0]}`);
    }
    const check = await checkAndRecord(ctx, db, row);
    if (!check.error) {
      verdict = check.verdict;
      facts = check.facts;
      status = check.status;
      row = (await servers.getServer(db, row.id)) ?? row;
    }
  }
  for (const p of verdict?.problems ?? []) ctx.out.warn(p);
  const takesTenants = isolationInPlace(facts);
  if (!takesTenants) ctx.out.warn(`${serverName} takes no tenants until its tenant isolation rules are in force: \`btw server ${status === "new" && plan.verify ? "bootstrap" : "isolate"} ${serverName}\``);
  // The others' rules name every other server's addresses: until re-applied, their tenants
  // reach this one's sshd. Re-applied now on those btw isolated (each at once; a server never
  // isolated takes no tenants and is left as it is); one that fails is named, not fatal.
  const others = (await servers.listServers(db)).filter((s) => s.id !== row.id && s.labels[ROLE_LABEL] !== "edge" && s.status !== "unreachable" && isolationInPlace(s.facts));
  const reisolated: string[] = [];
  if (others.length && !plan.isolate) ctx.out.info(`the tenant isolation rules of ${others.map((s) => s.name).join(", ")} do not name ${serverName} yet: \`btw server isolate\``);
  else if (others.length) {
    const { Host } = await import("../../ops/host.js");
    const { ensureIsolation } = await import("../../ops/server/isolation.js");
    await Promise.all(
      others.map(async (o) => {
        try {
          await ensureIsolation(new Host(o.name, await sshFor(ctx, o)), db, ctx.config, o.id);
          reisolated.push(o.name);
        } catch (e) {
          ctx.out.warn(`${o.name}'s tenant isolation rules do not name ${serverName} yet (${(e as Error).message.split("\n")[0]}): \`btw server isolate ${o.name}\``);
        }
      }),
    );
  }
  await ctx.audit("server.add", serverName, { host, port, user, capacity, status, isolated, reisolated: reisolated.sort() });
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ server: { ...row, status, facts }, takesTenants }, () => {
    ctx.out.success(`server ${serverName} registered (${status}${facts ? `, Docker ${String(facts.engineVersion ?? "missing")}, isolation ${String(facts.isolation ?? "not checked")}` : ""})`);
    return "";
  });
};
export default handler;
