import { Argument, Command, InvalidArgumentError, Option } from "commander";
import type { Ctx } from "./context.js";

// The whole command tree, declared with commander only: no handler module is imported until
// its command runs, so `btw --help` loads nothing but this file (see bench/startup.ts).

export type Handler = (ctx: Ctx, positional: unknown[], opts: Record<string, unknown>) => Promise<number | void>;
export type Loader = () => Promise<{ default: Handler }>;

/** Set by the action; main awaits it so errors come back through one place. */
export interface Dispatch {
  args?: unknown[];
  opts?: Record<string, unknown>;
  command?: Command;
  loader?: Loader;
}

export function intArg(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(value)}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected ${min}–${max}, got ${n}`);
    return n;
  };
}

export function numberArg(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || value.trim() === "" || n < min) throw new InvalidArgumentError(`expected a number ≥ ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
}

export function buildProgram(version: string, dispatch: Dispatch): Command {
  const program = new Command("btw")
    .description("Run a fleet of per-customer n8n stacks on Hetzner Cloud servers")
    .version(version, "-V, --version")
    .option("-c, --config <file>", "configuration file (default: BTW_CONFIG, ./btw.yml, $BTW_HOME/btw.yml)")
    .option("--json", "print machine-readable JSON on stdout")
    .option("-v, --verbose", "more detail on stderr")
    .option("--no-color", "no colours (also NO_COLOR)")
    .option("--non-interactive", "never prompt (implied without a TTY or when CI is set)")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions(false)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true });

  const on = (cmd: Command, loader: Loader) =>
    cmd.action((...a: unknown[]) => {
      const command = a[a.length - 1] as Command;
      dispatch.loader = loader;
      dispatch.args = a.slice(0, -2);
      dispatch.opts = command.optsWithGlobals();
      dispatch.command = command;
    });
  const mutation = (cmd: Command) => cmd.option("--dry-run", "print the plan (files, remote commands, state changes); change nothing");
  const destructive = (cmd: Command) => mutation(cmd).option("-y, --yes", "do not ask for confirmation");

  // init
  on(
    mutation(program.command("init"))
      .description("write the configuration, create the master key, migrate the state (prompts on a TTY)")
      .option("--domain <domain>", "base domain: tenants are served at <name>.<domain>")
      .option("--timezone <tz>", "default tenant timezone (IANA name)")
      .option("--store <kind>", "state store: embedded (PostgreSQL started on demand under $BTW_HOME) or postgres (URL from BTW_DATABASE_URL)")
      .option("--tls <mode>", "proxy TLS: auto (Let's Encrypt) or off (plain HTTP, labs)")
      .option("--acme-email <email>", "contact address for Let's Encrypt")
      .option("--merge <file>", "merge a YAML fragment into the new configuration (e.g. the lab's images)"),
    () => import("../commands/init.js"),
  );

  // config
  const config = program.command("config").description("the configuration file");
  on(config.command("schema").description("print the JSON Schema of btw.yml (for editor completion)"), () => import("../commands/config/schema.js"));
  on(config.command("show").description("print the effective configuration, secrets redacted"), () => import("../commands/config/show.js"));
  on(config.command("path").description("print which configuration file is used and why"), () => import("../commands/config/path.js"));

  // db
  const db = program.command("db").description("the central state database");
  on(mutation(db.command("migrate").description("apply pending schema migrations")), () => import("../commands/db/migrate.js"));
  on(db.command("status").description("show the store (the embedded server: running, pid, socket), applied and pending migrations"), () => import("../commands/db/status.js"));
  on(db.command("stop").description("stop the embedded state server (the next command starts it again)").option("--force", "stop it even while other btw commands use it"), () => import("../commands/db/stop.js"));

  // server
  const server = program.command("server").description("Docker hosts reached over SSH");
  on(
    mutation(
      server
        .command("add <name>")
        .description("register a server (connects, pins its host key, records its facts, installs the tenant isolation rules)")
        .requiredOption("--host <addr>", "address or DNS name")
        .option("--port <port>", "SSH port", intArg(1, 65535))
        .option("--user <user>", "SSH user")
        .option("--ssh-key <path>", "private key file (default: agent / ~/.ssh/config)")
        .option("--capacity <units>", "capacity in plan weight units (default: placement.defaultCapacity)", intArg(0, 100_000))
        .addOption(new Option("--role <role>", "what else it does: monitoring = it runs the monitoring stack (`btw monitoring deploy`)").choices(["monitoring"]))
        .option("--private-ip <address>", "its address on the private network (label btw-private-ip; infra apply records it for the servers it makes): the edge, Prometheus and its metrics listener use it")
        .option("--no-verify", "register without connecting (host not up yet); it takes no tenants until `btw server isolate` (or `bootstrap`)")
        .option("--no-isolate", "do not install the tenant isolation rules: it takes no tenants until `btw server isolate`"),
    ),
    () => import("../commands/server/add.js"),
  );
  on(server.command("list").description("list servers with their load"), () => import("../commands/server/list.js"));
  on(server.command("show <name>").description("one server: facts, capacity, tenants"), () => import("../commands/server/show.js"));
  on(mutation(server.command("bootstrap <name>").description("install Docker + Compose v2, hardening and the btw proxy on a Debian host (idempotent)")), () => import("../commands/server/bootstrap.js"));
  on(
    mutation(
      server
        .command("isolate [names...]")
        .description("install and apply the tenant isolation firewall (tenants cannot reach hosts, the private network, other servers, metadata), then check it; all servers by default. A server takes tenants only once its rules are in force. Re-run after adding a server")
    ),
    () => import("../commands/server/isolate.js"),
  );
  on(
    server
      .command("check [names...]")
      .description("connect over SSH and record engine, Compose v2, CPU, memory, disk and whether the tenant isolation rules are in force (all servers by default)"),
    () => import("../commands/server/check.js"),
  );
  on(
    destructive(server.command("trust <name>").description("replace a server's pinned host key (shared state) with the one it presents now"))
      .option("--fingerprint <SHA256:…>", "pin exactly this key (from the provider's console); refuse anything else"),
    () => import("../commands/server/trust.js"),
  );
  on(destructive(server.command("remove <name>").description("unregister a server (refused while tenants live there)")), () =>
    import("../commands/server/remove.js"),
  );

  // tenant
  const tenant = program.command("tenant").description("customers: one isolated n8n stack each");
  on(
    mutation(
      tenant
        .command("create <name>")
        .description("provision a tenant: place it, ship its stack, set up n8n, route it (resumable)")
        .option("--plan <plan>", "plan (default: defaults.plan)")
        .option("--server <server>", "place on this server (default: the one with most free capacity)")
        .option("--timezone <tz>", "IANA timezone for schedules (default: defaults.timezone)"),
    ),
    () => import("../commands/tenant/create.js"),
  );
  on(
    tenant.command("list").description("list tenants").option("--server <server>", "only on this server").option("--status <status>", "only with this status"),
    () => import("../commands/tenant/list.js"),
  );
  on(tenant.command("status <name>").description("live: containers, health, n8n readiness, CPU/memory"), () => import("../commands/tenant/status.js"));
  on(
    tenant
      .command("logs <name>")
      .description("the stack's logs")
      .option("--service <service>", "postgres, redis, n8n or worker (default: all)")
      .option("--since <when>", "e.g. 10m, 2h, 2026-11-01T08:00:00Z")
      .option("--tail <n>", "last n lines per service", intArg(0, 1_000_000))
      .option("--timestamps", "prefix each line with its time")
      .option("-f, --follow", "keep streaming"),
    () => import("../commands/tenant/logs.js"),
  );
  on(
    tenant
      .command("exec <name> <command...>")
      .description("run a command in a tenant's container (after --), e.g. btw tenant exec acme -- n8n --version")
      .option("--service <service>", "postgres, redis, n8n or worker", "n8n"),
    () => import("../commands/tenant/exec.js"),
  );
  on(mutation(tenant.command("suspend <name>").description("route to a 503 maintenance page and stop n8n; data kept")), () => import("../commands/tenant/suspend.js"));
  on(mutation(tenant.command("resume <name>").description("start the stack again and route it")), () => import("../commands/tenant/resume.js"));
  on(mutation(tenant.command("set-plan <name> <plan>").description("change the plan: new limits applied in place")), () => import("../commands/tenant/set-plan.js"));
  const tdomain = tenant.command("domain").description("custom domains (white label): a customer's hostname routed to its tenant");
  on(
    mutation(
      tdomain
        .command("add <name> <hostname>")
        .description("route a hostname to the tenant after its DNS proves it the tenant's (CNAME to <name>.<domain>, or the edge's addresses plus the TXT token it prints)")
        .option("--webhook-url", "also make it n8n's WEBHOOK_URL (.env rewritten, n8n recreated)")
        .option("--skip-dns-check", "add it without looking the hostname up (DNS set later)"),
    ),
    () => import("../commands/tenant/domain-add.js"),
  );
  on(destructive(tdomain.command("remove <name> <hostname>").description("stop routing the hostname (WEBHOOK_URL back to <name>.<domain> if it was there)")), () =>
    import("../commands/tenant/domain-remove.js"),
  );
  on(tdomain.command("list [name]").description("custom domains, of one tenant or all"), () => import("../commands/tenant/domain-list.js"));
  const tsecrets = tenant.command("secrets").description("the tenant's operator-set secrets (OpenAI, WordPress)");
  on(mutation(tsecrets.command("set <name> <key>").description("store a secret; the value is read from stdin or a hidden prompt, never argv")), () =>
    import("../commands/tenant/secrets-set.js"),
  );
  on(
    mutation(tsecrets.command("rotate [name]").description("new Postgres/Redis passwords and n8n API key for a live tenant (or --due: those older than secrets.rotationDays)")).option(
      "--due",
      "every active tenant whose secrets are due",
    ),
    () => import("../commands/tenant/secrets-rotate.js"),
  );
  on(
    destructive(
      tenant
        .command("delete <name>")
        .description("take out of service (data kept); --purge removes everything after a final backup")
        .option("--purge", "also remove volumes, files and secrets (a final backup is taken first)")
        .option("--no-final-backup", "purge without the final backup (needs --yes)"),
    ),
    () => import("../commands/tenant/delete.js"),
  );
  on(
    destructive(
      tenant
        .command("migrate <name>")
        .description("move a tenant to another server (backup, maintenance page, final dump, restore, switch)")
        .option("--to <server>", "target server")
        .option("--rollback", "go back to the source server (kept stopped after a migration)")
        .option("--cleanup", "remove the stopped source stack after a migration"),
    ),
    () => import("../commands/tenant/migrate.js"),
  );
  on(tenant.command("show <name>").description("one tenant: plan, server, URL, secrets (names), workflows, journal"), () => import("../commands/tenant/show.js"));
  on(
    tenant
      .command("export <name>")
      .description("the customer's archive (tar.gz): workflows, credentials' names and types, executions' metadata, content; no secret")
      .option("--out <file>", "where to write it (default: ./<name>-export-<time>.tar.gz; never overwritten)"),
    () => import("../commands/tenant/export.js"),
  );
  const tcontent = tenant.command("content").description("the tenant's content schema (keywords, clusters, articles)");
  on(
    mutation(tcontent.command("prune [name]").description("delete content keywords and clusters older than the plan's contentRetentionDays (articles kept)")).option(
      "--all",
      "every active or suspended tenant",
    ),
    () => import("../commands/tenant/content-prune.js"),
  );

  // workflows
  const workflows = program.command("workflows").description("WF1/WF2/WF3: the n8n workflows every tenant runs");
  const templatesFrom = (cmd: Command) =>
    cmd.option("--workflows-dir <dir>", "templates from this directory (manifest.yml + its JSON files) instead of the shipped ones; also BTW_WORKFLOWS_DIR");
  on(templatesFrom(workflows.command("list").description("the templates: version, trigger, credentials, latest changes")), () => import("../commands/workflows/list.js"));
  on(
    templatesFrom(workflows.command("status").description("per tenant: deployed versions, drift (edited in n8n), publication").option("--tenant <name>", "only this tenant")),
    () => import("../commands/workflows/status.js"),
  );
  on(
    templatesFrom(
      workflows
        .command("diff")
        .description("what a deploy would change on a tenant, node by node; for drift, what was edited in n8n")
        .requiredOption("--tenant <name>", "the tenant")
        .option("--force", "as a forced deploy would see it (drift overwritten)"),
    ),
    () => import("../commands/workflows/diff.js"),
  );
  on(
    templatesFrom(
      mutation(
        workflows
          .command("deploy")
          .description("push the templates: credentials, WF2 before WF1, updated in place, published, recorded; in waves over the fleet")
          .option("--tenant <name>", "one tenant")
          .option("--all", "every active tenant, in waves")
          .option("--wave-size <n>", "tenants deployed in parallel per wave; the next wave waits for a healthy one", intArg(1, 1000), 10)
          .option("--force", "overwrite workflows edited in the tenant's n8n (drift)"),
      ),
    ),
    () => import("../commands/workflows/deploy.js"),
  );
  on(
    mutation(
      workflows
        .command("rollback")
        .description("put a tenant's workflows back to the version each ran before the current one")
        .requiredOption("--tenant <name>", "the tenant")
        .option("--workflow <key>", "only this workflow (e.g. wf2)")
        .option("--force", "even when edited in the tenant's n8n since deployed"),
    ),
    () => import("../commands/workflows/rollback.js"),
  );

  const usage = program.command("usage").description("plans' quotas metered for billing: `usage collect`, then `usage report`");
  on(
    mutation(
      usage
        .command("collect")
        .description("per tenant, the month's executions by status, published workflows, articles published → the usage table (idempotent)")
        .option("--month <YYYY-MM>", "which month (default: the current one, UTC)")
        .option("--tenant <name>", "only this tenant")
        .option("--no-notify", "do not send quota notices (80 % / 100 %, once per threshold per month)"),
    ),
    () => import("../commands/usage/collect.js"),
  );
  on(
    usage
      .command("report")
      .description("collected usage against each plan's quotas; 80 % and 100 % flagged")
      .option("--month <YYYY-MM>", "which month (default: the current one, UTC)")
      .option("--tenant <name>", "only this tenant")
      .option("--csv", "CSV on stdout")
      .option("--enforce", "unpublish customer workflows over the active-workflow quota (newest first; WF1–WF3 kept), each audited")
      .option("--dry-run", "with --enforce: say what would be unpublished; change nothing"),
    () => import("../commands/usage/report.js"),
  );
  on(program.command("cost").description("monthly cost per server, per tenant and per plan; margin per plan; the seed's 3 € per tenant"), () => import("../commands/cost.js"));
  const fleet = program.command("fleet").description("the fleet as a whole: rebalancing tenants across servers");
  on(
    destructive(
      fleet
        .command("rebalance")
        .description("the smallest set of migrations that brings every server under its capacity policy (see `btw capacity`); --apply runs them one at a time, resumable, stopping at the first failure")
        .option("--apply", "run the migrations (asks, or --yes); without it, print them")
        .option("--spread", "also even out measured load (noisy neighbours): move busy tenants from a server using ≥ 60 % of its CPU or memory (p95, `usage collect`) to one using 25 points less")
        .option("--max-moves <n>", "with --spread: at most this many spreading moves (default 3)", intArg(1, 100)),
    ),
    () => import("../commands/fleet/rebalance.js"),
  );
  on(
    program.command("capacity").description("room by resources: reserved, used at most and allocatable per server, headroom in tenants per plan, cost per tenant by server type; exit 3 when a server is over its policy"),
    () => import("../commands/capacity.js"),
  );

  // upgrade
  const upgrade = program.command("upgrade").description("fleet upgrades in waves: backup first, readiness gate, automatic rollback");
  on(
    upgrade
      .command("plan")
      .description("who runs what, the fleet's spread, what an upgrade would do, pre-flight findings")
      .option("--to <version-or-image>", "target n8n version or image (default: images.n8n in btw.yml)")
      .option("--breaking-changes", "ask each tenant's n8n for its breaking-changes report (connects to every tenant to upgrade)"),
    () => import("../commands/upgrade/plan.js"),
  );
  on(
    mutation(
      upgrade
        .command("n8n")
        .description("upgrade tenants' n8n: per tenant backup, recreate, readiness, checks; rollback on failure; halts the rollout (exit 3)")
        .requiredOption("--to <version-or-image>", "target n8n version (e.g. 2.9.0, on images.n8n's repository) or a full image")
        .option("--tenant <name...>", "these tenants")
        .option("--all", "every tenant")
        .option("--server <server>", "the tenants of one server")
        .option("--wave-size <n>", "tenants per wave (default 5)")
        .option("--canary <n>", "tenants upgraded first and watched (default 0)")
        .option("--canary-watch <seconds>", "how long the canaries are watched before the first wave (default 60)")
        .option("--max-failures <k>", "failures tolerated before the rollout halts (default 0)")
        .option("--ready-timeout <seconds>", "how long n8n may take to migrate and become ready (default 300)"),
    ),
    () => import("../commands/upgrade/n8n.js"),
  );
  on(
    destructive(
      upgrade
        .command("postgres")
        .description("upgrade tenants' Postgres major: per tenant backup, dump, new data volume, restore, readiness; rollback to the old volume on failure; halts the rollout (exit 3)")
        .option("--to <major-or-image>", "target Postgres major (e.g. 17, on images.postgres's repository) or a full image (default: images.postgres)")
        .option("--tenant <name...>", "these tenants")
        .option("--all", "every tenant")
        .option("--server <server>", "the tenants of one server")
        .option("--wave-size <n>", "tenants per wave (default 5)")
        .option("--max-failures <k>", "failures tolerated before the rollout halts (default 0)")
        .option("--ready-timeout <seconds>", "how long each service may take to become ready (default 300)")
        .option("--rollback", "undo an interrupted upgrade: the old image on the old volume")
        .option("--cleanup", "remove the old data volume(s) and dump an upgrade kept (with --tenant; asks, or --yes)"),
    ),
    () => import("../commands/upgrade/postgres.js"),
  );
  on(
    mutation(
      upgrade
        .command("redis")
        .description("upgrade tenants' Redis within its major: per tenant backup, recreate, readiness; the old image back on failure; halts the rollout (exit 3)")
        .option("--to <version-or-image>", "target Redis version (e.g. 8.0.3, on images.redis's repository) or a full image (default: images.redis)")
        .option("--tenant <name...>", "these tenants")
        .option("--all", "every tenant")
        .option("--server <server>", "the tenants of one server")
        .option("--wave-size <n>", "tenants per wave (default 5)")
        .option("--max-failures <k>", "failures tolerated before the rollout halts (default 0)")
        .option("--ready-timeout <seconds>", "how long the stack may take to become ready (default 300)")
        .option("--rollback", "undo an interrupted upgrade: the old image"),
    ),
    () => import("../commands/upgrade/redis.js"),
  );

  // backup
  const backup = program.command("backup").description("encrypted backups of tenants: database, n8n data, escrowed keys");
  on(mutation(backup.command("tenant <name>").description("back up one tenant now")), () => import("../commands/backup/tenant.js"));
  on(
    mutation(
      backup
        .command("all")
        .description("back up every live tenant (bounded parallelism; exit 3 when some failed)")
        .option("--server <server>", "only the tenants of this server")
        .option("--concurrency <n>", "at most n backups at once (default: backup.concurrency.total)", intArg(1, 256))
        .option("--per-server <n>", "at most n at once on one server (default: backup.concurrency.perServer)", intArg(1, 256)),
    ),
    () => import("../commands/backup/all.js"),
  );
  on(
    backup.command("list").description("list backups, newest first").option("--tenant <name>", "only this tenant's").option("--all", "also pruned (deleted) ones"),
    () => import("../commands/backup/list.js"),
  );
  on(
    backup.command("show <id>").description("one backup: its parts, counts, and how each part was taken (what a restore may lack, and why)"),
    () => import("../commands/backup/show.js"),
  );
  on(
    mutation(backup.command("verify"))
      .description("restore backups into a scratch stack and check them (records verified_at)")
      .option("--tenant <name>", "this tenant's backups")
      .option("--all", "every tenant's backups")
      .option("--latest", "only the newest backup of each tenant")
      .option("--backup <id>", "one backup")
      .option("--server <server>", "where to run the scratch stack (default: the tenant's server)"),
    () => import("../commands/backup/verify.js"),
  );
  on(
    mutation(backup.command("import").description("rebuild the backup catalogue from the storage alone: objects not in the state are read, checked and recorded")).option(
      "--tenant <name>",
      "only this tenant's",
    ),
    () => import("../commands/backup/import.js"),
  );
  on(mutation(backup.command("prune").description("delete backups beyond the retention (backup.retention)")), () => import("../commands/backup/prune.js"));
  on(
    destructive(
      program
        .command("restore <tenant>")
        .description("restore a tenant from a backup (in place, onto a purged name, or --as a new tenant)")
        .option("--backup <id>", "which backup (default: the tenant's newest)")
        .option("--as <new-tenant>", "restore as another tenant name")
        .option("--server <server>", "place a re-created tenant on this server")
        .option("--rollback", "undo an interrupted in-place restore: its safety backup goes back")
        .option("--no-safety-backup", "in place, without first backing up the current data (only when it is known lost; needs --yes)"),
    ),
    () => import("../commands/restore.js"),
  );

  // state
  const stateCmd = program.command("state").description("the central state's own backup: encrypted, in the backup storage");
  on(mutation(stateCmd.command("backup").description("write an encrypted dump of the state to the backup storage (_state/)")), () => import("../commands/state/backup.js"));
  on(
    destructive(stateCmd.command("restore").description("bring the state back from the storage into a fresh state (newest unless --backup)")).option("--backup <id>", "this state backup (state-…)"),
    () => import("../commands/state/restore.js"),
  );

  // key
  const key = program.command("key").description("the master key: rotation, recovery copy, import");
  on(destructive(key.command("rotate").description("new master key, every tenant and server secret re-sealed; old keys kept read-only in the keyring")), () => import("../commands/key/rotate.js"));
  on(
    mutation(key.command("export").description("write a passphrase-protected (scrypt) copy of the master key and keyring; passphrase from a prompt or stdin"))
      .option("--recovery", "the passphrase-protected recovery file (the only export)")
      .option("--out <file>", "write it to this new file (0600) instead of stdout"),
    () => import("../commands/key/export.js"),
  );
  on(destructive(key.command("import <file>").description("read a recovery file: its key becomes the master key, older ones join the keyring")), () => import("../commands/key/import.js"));

  // infra
  const infra = program.command("infra").description("Hetzner servers, network and firewall as code (cdktn → terraform/tofu)");
  on(infra.command("synth").description("write the Terraform JSON (cdktf.out/manifest.json, stacks/<stack>/cdk.tf.json)").option("--outdir <dir>", "output directory (default: <terraform.dir>/cdktf.out)"), () =>
    import("../commands/infra/synth.js"),
  );
  on(infra.command("plan").description("what apply would create, change and delete, with the monthly cost of new servers"), () => import("../commands/infra/plan.js"));
  on(destructive(infra.command("apply").description("create/update the platform, then register and check its servers (asks before deleting anything)")), () =>
    import("../commands/infra/apply.js"),
  );
  on(destructive(infra.command("destroy").description("delete the whole platform (refused while a server holds tenants)")), () => import("../commands/infra/destroy.js"));
  on(infra.command("output").description("the servers the stack made: name, id, IPv4, IPv6, private IP"), () => import("../commands/infra/output.js"));

  // edge
  const edge = program.command("edge").description("the edge of proxy.mode edge: load balancer → edge proxies → servers");
  on(mutation(edge.command("sync").description("re-render every server's routes and every edge proxy's table from the state (validated, reloaded gracefully)")), () =>
    import("../commands/edge/sync.js"),
  );

  // audit, doctor
  on(
    program
      .command("audit")
      .description("the audit log: who changed what, when")
      .option("--since <when>", "ISO date/time, or a duration like 2h, 7d")
      .option("--action <prefix>", "only actions starting with this (e.g. server.)")
      .option("--limit <n>", "at most n rows", intArg(1, 100_000), 100),
    () => import("../commands/audit.js"),
  );
  on(program.command("status").description("fleet health: every server and tenant (one SSH connection per server)"), () => import("../commands/status.js"));

  // monitoring
  const monitoring = program.command("monitoring").description("Prometheus, Alertmanager and Grafana watching the fleet");
  on(
    mutation(monitoring.command("sync").description("put scrape targets, alert rules and btw's own metrics on the monitoring server"))
      .option("--server <name>", "the monitoring server (default: the one with the monitoring role)"),
    () => import("../commands/monitoring/sync.js"),
  );
  on(
    mutation(monitoring.command("deploy").description("exporters on every server; Prometheus, Alertmanager, blackbox and Grafana on the monitoring server (idempotent)"))
      .option("--server <name>", "the monitoring server (default: the one with the monitoring role)"),
    () => import("../commands/monitoring/deploy.js"),
  );

  // schedule
  const schedule = program.command("schedule").description("the operator host's crontab: nightly backups, weekly verify, prune, maintenance");
  on(mutation(schedule.command("install").description("write btw's block into this host's crontab (flock per job, jitter; replaced, never duplicated)")), () =>
    import("../commands/schedule/install.js"),
  );
  on(schedule.command("status").description("each job's schedule, last run, outcome, notification and next run"), () => import("../commands/schedule/status.js"));
  on(
    mutation(schedule.command("run <job>"))
      .description("run one job now as cron does: recorded, metrics updated, failures notified (backup-all, backup-verify, backup-prune, secrets-rotate, maintenance)")
      .option("--jitter <seconds>", "first sleep a random 0..seconds", intArg(0, 3600), 0),
    () => import("../commands/schedule/run.js"),
  );
  on(
    program
      .command("doctor")
      .description("check this set-up and say how to fix what is wrong")
      .option("--fix", "remove stale scratch stacks (left by a crashed backup verify) it finds"),
    () => import("../commands/doctor.js"),
  );

  // shell completion, generated from this table
  on(
    program
      .command("completion")
      .description("print the shell completion script: `source <(btw completion bash)`, zsh likewise, `btw completion fish | source`")
      .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"])),
    () => import("../commands/completion.js"),
  );
  // what the scripts call back for names (tenants, servers, plans, backups); never in --help
  on(program.command("__complete <kind>", { hidden: true }), () => import("../commands/complete.js"));

  return program;
}

export { Option };
