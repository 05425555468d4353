import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { btwHome, findConfig } from "../config/home.js";
import type { LoadedConfig } from "../config/load.js";
import { ConfigError, OperationError, UsageError, isBtwError } from "../errors.js";
import type { Db } from "../state/db.js";
import type { MasterKey } from "../secrets/master-key.js";
import type { GlobalOptions } from "./globals.js";
import type { Io } from "./io.js";
import { Output } from "./output.js";

/**
 * What a command handler gets: the process (io), the global options, and lazy access to
 * config, state and keys. Nothing is opened until a command asks for it, so `btw --help`
 * and `btw config schema` never touch the database.
 */
export class Ctx {
  readonly out: Output;
  readonly home: string;
  private loaded?: LoadedConfig;
  private dbHandle?: Promise<Db>;
  private masterKey?: MasterKey;
  private stateIdValue: string | null = null;
  private readonly cleanups: Array<() => Promise<void> | void> = [];
  private configModule?: typeof import("../config/load.js");

  constructor(
    readonly io: Io,
    readonly globals: GlobalOptions,
    /** the command line as typed, for audit rows and lock holders (never holds secrets: they never reach argv) */
    readonly commandLine: string,
  ) {
    this.out = new Output(io.stdout, io.stderr, globals);
    this.home = btwHome(io.env);
  }

  /** Loads what every command needs but `--help` must not pay for (yaml, zod). */
  async prepare(): Promise<void> {
    this.configModule ??= await import("../config/load.js");
  }

  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  /** Prompts only on a TTY without --non-interactive/CI; otherwise fail naming the flag. */
  canPrompt(): boolean {
    return !this.globals.nonInteractive && !this.globals.json;
  }

  requireAnswer(what: string, flag: string): never {
    throw new UsageError(`${what} is required`, { hint: `pass ${flag} (prompts are off: no TTY, --non-interactive or CI)` });
  }

  /** Destructive verbs: --yes, or an interactive confirmation that defaults to No. */
  async confirm(question: string, yes: boolean | undefined, flag = "--yes"): Promise<void> {
    if (yes) return;
    if (!this.canPrompt()) {
      throw new UsageError(`refusing without confirmation: ${question}`, { hint: `re-run with ${flag}` });
    }
    const { confirm } = await import("@inquirer/prompts");
    const ok = await confirm({ message: question, default: false }, { input: this.io.stdin, output: this.io.stderr });
    if (!ok) throw new UsageError("cancelled", { code: "cancelled" });
  }

  configSource() {
    return findConfig({ flag: this.globals.config, env: this.env, cwd: this.io.cwd, exists: existsSync });
  }

  loadedConfig(): LoadedConfig {
    if (!this.loaded) {
      const source = this.configSource();
      if (!source) {
        throw new ConfigError(`no configuration found (looked for --config, BTW_CONFIG, ./btw.yml, ${join(this.home, "btw.yml")})`, {
          code: "config-missing",
          hint: "run `btw init`",
        });
      }
      if (!this.configModule) throw new Error("Ctx.prepare() was not awaited");
      this.loaded = this.configModule.loadConfig(source, this.env);
    }
    return this.loaded;
  }

  get config() {
    return this.loadedConfig().config;
  }

  /** The state database, opened once and migrated-checked. */
  db(opts: { skipMigrationCheck?: boolean } = {}): Promise<Db> {
    this.dbHandle ??= this.openState(opts.skipMigrationCheck ?? false);
    return this.dbHandle;
  }

  private async openState(skipCheck: boolean): Promise<Db> {
    const { openDb } = await import("../state/db.js");
    const url = this.config.database.url;
    let db: Db;
    try {
      db = await openDb({
        url,
        dataDir: join(this.home, "state"),
        lockTimeoutMs: Number(this.env.BTW_LOCK_TIMEOUT_MS ?? 10_000),
        command: this.commandLine.replace(/^btw /, ""),
      });
    } catch (e) {
      if (isBtwError(e)) throw e;
      throw new OperationError(`cannot open the state database${url ? ` at ${redactUrl(url)}` : ""}: ${(e as Error).message}`, {
        code: "state-unreachable",
        hint: url ? "check database.url / BTW_DATABASE_URL (is the server up?), or unset it to use the embedded store" : `check ${join(this.home, "state")}`,
        cause: e,
      });
    }
    this.cleanups.push(() => db.close());
    // the embedded store holds tenant rows and sealed secrets: owner-only, like master.key
    if (!url) chmodSync(join(this.home, "state"), 0o700);
    if (!skipCheck) {
      const { migrationStatus } = await import("../state/migrate.js");
      const status = await migrationStatus(db);
      if (status.pending.length > 0) {
        throw new ConfigError(`the state schema is behind: ${status.pending.length} migration(s) pending`, {
          code: "state-unmigrated",
          hint: "run `btw db migrate`",
        });
      }
    }
    const { readStateId } = await import("../state/identity.js");
    this.stateIdValue = await readStateId(db);
    return db;
  }

  /**
   * The open state's identity (a uuid, labels of everything it creates on servers); null
   * before the state is opened or when its schema predates 006_state_identity.sql.
   */
  get stateId(): string | null {
    return this.stateIdValue;
  }

  async master(): Promise<MasterKey> {
    if (!this.masterKey) {
      const { loadMasterKey } = await import("../secrets/master-key.js");
      this.masterKey = loadMasterKey(this.home, this.env);
    }
    return this.masterKey;
  }

  /** Appends an audit row: who, from where, what. Details must never hold secrets. */
  async audit(action: string, target: string, details: Record<string, unknown> = {}): Promise<void> {
    const db = await this.db();
    const { appendAudit } = await import("../state/audit.js");
    await appendAudit(db, { action, target, details: { ...details, command: this.commandLine } });
  }

  onClose(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // closing is best effort: the command's own outcome is what matters
      }
    }
    this.cleanups.length = 0;
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "REDACTED";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
