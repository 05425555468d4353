import type { Handler } from "../../cli/program.js";
import { bootstrapCommand, bootstrapScriptArgs } from "../../core/infra/bootstrap.js";
import { requireServer, sshFor } from "../../ops/server/context.js";
import { checkAndRecord } from "./shared.js";

// Prepares a registered server the way cloud-init prepares the ones `infra apply` makes:
// Docker Engine + Compose v2, unattended security upgrades, fail2ban, key-only SSH, log
// rotation, /opt/btw — then the btw proxy, then `server check`. Safe to re-run: it reports
// what it changed, and a second run changes nothing.
const handler: Handler = async (ctx, [name], opts) => {
  const db = await ctx.db();
  const server = await requireServer(db, String(name));
  const argv = bootstrapCommand(server.sshUser, bootstrapScriptArgs(ctx.config.bootstrap));
  if (opts.dryRun) {
    ctx.out.result(
      {
        dryRun: true,
        server: server.name,
        remote: { argv, stdin: "templates/cloud-init/bootstrap.sh" },
        then: [
          "install and apply the tenant isolation rules (/opt/btw/isolation/apply.sh; btw-isolation.service re-applies them at boot and on Docker restarts)",
          "install or converge the btw proxy (/opt/btw/proxy) and render its routes from the state (validated, then reloaded)",
          "server check (records facts, status)",
        ],
      },
      () =>
        [
          `would bootstrap ${server.name} (${server.sshUser}@${server.host}:${server.port}):`,
          `  run \`${argv.join(" ")}\` with templates/cloud-init/bootstrap.sh on stdin`,
          `    (Docker Engine + Compose v2, unattended security upgrades, fail2ban, key-only SSH, container log rotation, /opt/btw)`,
          `  install the tenant isolation rules: tenants (${ctx.config.placement.subnetPool}) cannot reach the host, ${ctx.config.hetzner.networkRange}, the other servers or 169.254.169.254`,
          `  install the btw proxy (${ctx.config.images.caddy}) if it is not running, and render its routes from the state again (validated, then reloaded)`,
          "  check the server and record its facts",
        ].join("\n"),
    );
    return;
  }

  const started = Date.now();
  const lock = await db.lock({ kind: "server", name: `${server.name}:bootstrap` }, { timeoutMs: 0 });
  try {
    const { Host } = await import("../../ops/host.js");
    const { runBootstrap, proxyRunning } = await import("../../ops/bootstrap.js");
    const { ensureProxy, syncRoutes } = await import("../../ops/proxy.js");
    const { ensureIsolation } = await import("../../ops/server/isolation.js");
    const host = new Host(server.name, await sshFor(ctx, server));
    ctx.out.info(`bootstrapping ${server.name} (${server.host})…`);
    const report = await runBootstrap(host, ctx.config, server.sshUser);
    for (const s of report.steps) ctx.out.verbose(`  ${s.step}: ${s.status}${s.detail ? ` (${s.detail})` : ""}`);

    const isolation = await ensureIsolation(host, db, ctx.config, server.id);
    if (!isolation.persistent) ctx.out.warn(`${server.name} has no systemd: the tenant isolation rules are applied but not re-applied at boot; re-run \`btw server bootstrap ${server.name}\` after a reboot`);
    const proxyWasRunning = await proxyRunning(host);
    await ensureProxy(host, db, ctx, server.id);
    // the routes too: a proxy whose Caddyfile something else rewrote (another btw state on the
    // same server) answers 404 for this state's tenants until they are rendered again
    await syncRoutes(host, db, ctx, server);
    const changed = [...report.changed, ...(isolation.changed ? ["isolation"] : []), ...(proxyWasRunning ? [] : ["proxy"])];

    const check = await checkAndRecord(ctx, db, server);
    if (check.error) throw check.cause;
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    await ctx.audit("server.bootstrap", server.name, { changed, status: check.status });
    ctx.out.result(
      { server: server.name, changed, steps: [...report.steps, { step: "isolation", status: isolation.changed ? "changed" : "ok", detail: isolation.persistent ? "" : "no systemd: not re-applied at boot" }, { step: "proxy", status: proxyWasRunning ? "ok" : "changed", detail: "" }], status: check.status, facts: check.facts, seconds },
      () => {
        for (const p of check.verdict?.problems ?? []) ctx.out.warn(p);
        ctx.out.success(
          changed.length === 0
            ? `${server.name} is bootstrapped: nothing changed (${seconds} s)`
            : `${server.name} bootstrapped in ${seconds} s, changed: ${changed.join(", ")}; Docker ${String(check.facts?.engineVersion ?? "?")}, Compose ${String(check.facts?.composeVersion ?? "?")}, status ${check.status}`,
        );
        return "";
      },
    );
  } finally {
    await lock.release();
  }
};
export default handler;
