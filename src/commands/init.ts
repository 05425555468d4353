import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseDocument, stringify } from "yaml";
import { parseConfigText } from "../config/load.js";
import { isTimezone } from "../core/tenant/env.js";
import { ConfigError, UsageError } from "../errors.js";
import type { Ctx } from "../cli/context.js";
import type { Handler } from "../cli/program.js";

interface InitAnswers {
  domain: string;
  timezone: string;
  store: "embedded" | "postgres";
  tls: "auto" | "off";
  acmeEmail?: string;
}

// `btw init` is safe to re-run: it creates what is missing (config, master key, schema) and
// leaves what exists untouched, saying so. It never overwrites a config or a master key.
const handler: Handler = async (ctx, _args, opts) => {
  const target = ctx.globals.config ? resolve(ctx.io.cwd, ctx.globals.config) : ctx.env.BTW_CONFIG ? resolve(ctx.io.cwd, ctx.env.BTW_CONFIG) : join(ctx.home, "btw.yml");
  const dryRun = opts.dryRun === true;
  const steps: Array<{ step: string; status: "created" | "exists" | "applied" | "up-to-date" | "would-create" | "would-apply"; detail?: string }> = [];

  // 1. configuration
  const configExists = existsSync(target);
  if (configExists) {
    steps.push({ step: "config", status: "exists", detail: target });
    warnOnDifferences(ctx, opts);
  } else {
    const answers = await gather(ctx, opts);
    const text = render(answers, opts.merge ? readFragment(String(opts.merge), ctx.io.cwd) : {});
    parseConfigText(text, target, {}); // validate before writing anything
    if (!dryRun) {
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(`${target}.tmp`, text, { mode: 0o600 });
      renameSync(`${target}.tmp`, target);
    }
    steps.push({ step: "config", status: dryRun ? "would-create" : "created", detail: target });
  }

  // 2. master key — never a second one for a shared state that already depends on another
  const { createMasterKeyFile, masterKeyPath } = await import("../secrets/master-key.js");
  if (!dryRun || configExists) {
    if (!ctx.globals.config && !configExists && !ctx.env.BTW_CONFIG) ctx.globals.config = target;
    const { refuseForeignKeys } = await import("../ops/key/init-check.js");
    await refuseForeignKeys(ctx, await ctx.db({ skipMigrationCheck: true }), configExists ? null : target);
  }
  if (ctx.env.BTW_MASTER_KEY) steps.push({ step: "master-key", status: "exists", detail: "BTW_MASTER_KEY" });
  else if (existsSync(masterKeyPath(ctx.home))) steps.push({ step: "master-key", status: "exists", detail: masterKeyPath(ctx.home) });
  else if (dryRun) steps.push({ step: "master-key", status: "would-create", detail: masterKeyPath(ctx.home) });
  else {
    mkdirSync(ctx.home, { recursive: true, mode: 0o700 });
    createMasterKeyFile(ctx.home);
    steps.push({ step: "master-key", status: "created", detail: `${masterKeyPath(ctx.home)} (back it up: without it no tenant secret can be decrypted)` });
  }
  const master = dryRun && !ctx.env.BTW_MASTER_KEY && !existsSync(masterKeyPath(ctx.home)) ? null : await ctx.master();
  // the backup recovery identity beside it: what opens every backup with `age` alone
  const { ensureRecoveryIdentity, recoveryIdentityPath } = await import("../secrets/recovery-identity.js");
  const recoveryPath = recoveryIdentityPath(ctx.home);
  if (existsSync(recoveryPath)) steps.push({ step: "recovery-identity", status: "exists", detail: recoveryPath });
  else if (dryRun) steps.push({ step: "recovery-identity", status: "would-create", detail: recoveryPath });
  else {
    mkdirSync(ctx.home, { recursive: true, mode: 0o700 });
    ensureRecoveryIdentity(ctx.home);
    steps.push({ step: "recovery-identity", status: "created", detail: `${recoveryPath} (opens every backup with \`age -d -i\`: keep a copy offline, see README "Restoring a tenant without btw")` });
  }

  // 3. state schema
  if (!dryRun || configExists) {
    if (!ctx.globals.config && !configExists && !ctx.env.BTW_CONFIG) ctx.globals.config = target;
    const db = await ctx.db({ skipMigrationCheck: true });
    const { migrate, migrationStatus } = await import("../state/migrate.js");
    if (dryRun) {
      const status = await migrationStatus(db);
      steps.push({ step: "state", status: status.pending.length ? "would-apply" : "up-to-date", detail: status.pending.join(", ") || db.driver });
    } else {
      const applied = await migrate(db);
      const { registerFirstKey } = await import("../state/master-keys.js");
      if (master && (await registerFirstKey(db, master.id))) steps.push({ step: "key-record", status: "created", detail: `state records master key ${master.id}` });
      steps.push({ step: "state", status: applied.length ? "applied" : "up-to-date", detail: applied.length ? `${applied.length} migration(s) on ${db.driver}` : db.driver });
      const changed = steps.some((s) => s.status === "created" || s.status === "applied");
      if (changed) await ctx.audit("init", target, { steps: steps.map((s) => `${s.step}:${s.status}`) });
    }
  } else {
    steps.push({ step: "state", status: "would-apply", detail: "all migrations" });
  }

  const changed = steps.some((s) => s.status === "created" || s.status === "applied");
  ctx.out.result({ config: target, masterKeyId: master?.id ?? null, changed, dryRun, steps }, () => {
    const lines = steps.map((s) => `${s.step.padEnd(11)} ${s.status.padEnd(11)} ${s.detail ?? ""}`.trimEnd());
    lines.push(changed ? "btw is initialised." : dryRun ? "(dry run: nothing was changed)" : "Nothing to do: already initialised.");
    return lines.join("\n");
  });
};
export default handler;

async function gather(ctx: Ctx, opts: Record<string, unknown>): Promise<InitAnswers> {
  const prompts = ctx.canPrompt() ? await import("@inquirer/prompts") : null;
  const io = { input: ctx.io.stdin, output: ctx.io.stderr };
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

  let domain = str(opts.domain);
  if (!domain) domain = prompts ? await prompts.input({ message: "Base domain (tenants live at <name>.<domain>):", required: true }, io) : ctx.requireAnswer("the base domain", "--domain <domain>");
  let store = str(opts.store);
  if (!store) store = prompts ? await prompts.select({ message: "State store:", choices: [{ value: "embedded", name: "embedded (PostgreSQL started on demand under $BTW_HOME; nothing to install)" }, { value: "postgres", name: "PostgreSQL server (URL from BTW_DATABASE_URL)" }] }, io) : "embedded";
  if (store !== "embedded" && store !== "postgres") throw new UsageError(`--store must be embedded or postgres, not ${JSON.stringify(store)}`);
  if (store === "postgres" && !ctx.env.BTW_DATABASE_URL && !ctx.env.DATABASE_URL) {
    throw new UsageError("--store postgres needs the URL in BTW_DATABASE_URL", { hint: "export BTW_DATABASE_URL=postgres://user:password@host/db (kept out of argv and out of the file)" });
  }
  let tls = str(opts.tls);
  if (!tls) tls = prompts ? await prompts.select({ message: "Proxy TLS:", choices: [{ value: "auto", name: "auto (Let's Encrypt)" }, { value: "off", name: "off (plain HTTP: labs only)" }] }, io) : "auto";
  if (tls !== "auto" && tls !== "off") throw new UsageError(`--tls must be auto or off, not ${JSON.stringify(tls)}`);
  const timezone = str(opts.timezone) ?? (prompts ? await prompts.input({ message: "Default tenant timezone:", default: "Europe/Paris" }, io) : "Europe/Paris");
  if (!isTimezone(timezone)) throw new UsageError(`unknown timezone ${JSON.stringify(timezone)}`, { hint: "use an IANA name such as Europe/Paris" });
  const acmeEmail = str(opts.acmeEmail);
  return { domain, timezone, store, tls, ...(acmeEmail ? { acmeEmail } : {}) };
}

function readFragment(path: string, cwd: string): Record<string, unknown> {
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --merge file ${full}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConfigError(`${full} is not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  const value = doc.toJS() as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`${full} must be a YAML mapping`);
  return value as Record<string, unknown>;
}

function render(a: InitAnswers, fragment: Record<string, unknown>): string {
  const body: Record<string, unknown> = {
    domain: a.domain,
    ...(a.acmeEmail ? { acmeEmail: a.acmeEmail } : {}),
    proxy: { tls: a.tls },
    defaults: { timezone: a.timezone },
  };
  const merged = deepMerge(body, fragment);
  const header = [
    "# btw configuration — `btw config schema > btw.schema.json` gives editor completion.",
    "# Defaults apply to every key not written here; `btw config show` prints the result.",
    a.store === "postgres" ? "# State: PostgreSQL, URL from BTW_DATABASE_URL (kept out of this file)." : "# State: the embedded store under $BTW_HOME/state (set database.url or BTW_DATABASE_URL for PostgreSQL).",
    "",
  ].join("\n");
  return header + stringify(merged);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isPlain(cur) && isPlain(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function warnOnDifferences(ctx: Ctx, opts: Record<string, unknown>): void {
  const config = ctx.config;
  if (typeof opts.domain === "string" && opts.domain !== config.domain) {
    ctx.out.warn(`--domain ${opts.domain} ignored: the existing configuration says ${config.domain} (edit the file to change it)`);
  }
  if (typeof opts.tls === "string" && opts.tls !== config.proxy.tls) {
    ctx.out.warn(`--tls ${opts.tls} ignored: the existing configuration says ${config.proxy.tls}`);
  }
}
