import { isIP } from "node:net";
import { accessSync, constants } from "node:fs";
import type { Handler } from "../../cli/program.js";
import { expandPath } from "../../config/load.js";
import { PRIVATE_IP_LABEL, ROLE_LABEL } from "../../core/monitoring/targets.js";
import { hostProblem } from "../../core/server/host.js";
import { nameProblem, SERVER_NAME } from "../../core/names.js";
import { ConflictError, UsageError } from "../../errors.js";
import { sshFor } from "./shared.js";

// Registers a server. By default it connects first (pinning the host key on first contact)
// and records its facts; a server that cannot be reached is not registered, and a key pinned
// during the failed attempt is forgotten again, so bad input leaves no trace.
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
  const plan = { name: serverName, host, port, sshUser: user, sshKeyPath, capacity, labels, verify: opts.verify !== false };
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, server: plan }, () =>
      `would register server ${serverName} (${user}@${host}:${port}, capacity ${capacity})` + (plan.verify ? ", after connecting and pinning its host key" : ", without connecting"),
    );
    return;
  }

  let facts: Record<string, unknown> | null = null;
  let status: "new" | "active" = "new";
  if (plan.verify) {
    const { forgetHostKeys, listHostKeys } = await import("../../state/host-keys.js");
    const knownBefore = (await listHostKeys(db, { host, port })).length > 0;
    const { probeServer } = await import("../../remote/probe-server.js");
    const { judgeServer } = await import("../../core/server/readiness.js");
    try {
      const probe = await probeServer(await sshFor(ctx, { name: serverName, host, port, sshUser: user, sshKeyPath }));
      const verdict = judgeServer(serverName, probe);
      facts = { ...probe.facts, engineVersion: probe.engineVersion ?? undefined, composeVersion: probe.composeVersion ?? undefined, verdict: verdict.status, problems: verdict.problems };
      status = verdict.status === "needs-bootstrap" ? "new" : "active";
      for (const p of verdict.problems) ctx.out.warn(p);
    } catch (e) {
      if (!knownBefore) await forgetHostKeys(db, host, port); // a server not added leaves no pin
      throw e;
    }
  }

  const row = await db.transaction(async (tx) => {
    const inserted = await servers.insertServer(tx, { name: serverName, host, port, sshUser: user, sshKeyPath, capacity, labels, status });
    if (facts) await servers.updateServerFacts(tx, inserted.id, facts);
    return inserted;
  });
  await ctx.audit("server.add", serverName, { host, port, user, capacity, status });
  await (await import("../../ops/monitoring/refresh.js")).refreshMonitoring(ctx);
  ctx.out.result({ server: { ...row, status, facts } }, () => {
    ctx.out.success(`server ${serverName} registered (${status}${facts ? `, Docker ${String(facts.engineVersion ?? "missing")}` : ""})`);
    return "";
  });
};
export default handler;
