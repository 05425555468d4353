import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { tempHome, type BtwHome } from "../../support/cli.js";

// `btw config show` and `btw config path` run for real (the built CLI): what the operator
// reads when asking "which file, and what does btw make of it". No state is opened.

const SECRETS = {
  dbPassword: "s3cretPassw0rd-config-show",
  hcloud: "hc-token-config-show-0123456789",
  s3: "s3-secret-key-config-show-0123456789",
  envDbPassword: "env-db-passw0rd-config-show",
};

const FILE = `domain: example.com
database:
  url: postgres://btw:${SECRETS.dbPassword}@db.internal:5432/btw
hetzner:
  token: ${SECRETS.hcloud}
images:
  redis: registry.internal/redis:8.0.2
backup:
  storage:
    type: s3
    bucket: btw-backups
    region: eu-central-1
    accessKeyId: AKIAEXAMPLE
    secretAccessKey: ${SECRETS.s3}
`;

describe("config show / config path", () => {
  let home: BtwHome;
  let cwd: string;

  beforeAll(() => {
    home = tempHome();
    cwd = join(home.dir, "work");
    mkdirSync(cwd);
    writeFileSync(join(home.dir, "btw.yml"), FILE);
  });
  afterAll(() => home?.cleanup());

  it("config show prints the effective configuration — the file's values, the defaults, env overrides named — with every secret redacted, as YAML and as --json", async () => {
    const env = { BTW_DOMAIN: "other.example.org", BTW_DATABASE_URL: `postgres://btw:${SECRETS.envDbPassword}@db2.internal:5432/btw` };
    const json = await home.run(["config", "show", "--json"], { env, cwd });
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { source: { path: string; via: string }; overrides: string[]; config: Record<string, any> };
    expect(out.source).toEqual({ path: join(home.dir, "btw.yml"), via: "BTW_HOME" });
    expect(out.overrides.sort()).toEqual(["BTW_DATABASE_URL", "BTW_DOMAIN"]);
    const c = out.config;
    expect(c.domain).toBe("other.example.org"); // the env wins over the file
    expect(c.images.redis).toBe("registry.internal/redis:8.0.2"); // the file's value
    expect(c.images.n8n).toMatch(/n8n:\d+\.\d+\.\d+$/); // a default, filled in
    expect(c.plans.starter.contentRetentionDays).toBe(180);
    expect(c.backup.storage).toMatchObject({ type: "s3", bucket: "btw-backups", accessKeyId: "AKIAEXAMPLE", secretAccessKey: "[REDACTED]" });
    expect(c.database.url).toBe("[REDACTED]");
    expect(c.hetzner.token).toBe("[REDACTED]");

    const text = await home.run(["config", "show"], { env, cwd });
    expect(text.code, text.stderr).toBe(0);
    expect(parse(text.stdout)).toEqual(c); // the same configuration, as YAML on stdout
    expect(text.stderr).toContain(`# from ${join(home.dir, "btw.yml")} (BTW_HOME); overridden by BTW_DATABASE_URL, BTW_DOMAIN`);
    for (const r of [json, text]) for (const s of Object.values(SECRETS)) expect(r.stdout + r.stderr).not.toContain(s);
  });

  it("config show with no configuration fails in one line naming `btw init` (exit 2)", async () => {
    const bare = tempHome();
    try {
      const r = await bare.run(["config", "show"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/no configuration found/);
      expect(r.stderr).toMatch(/btw init/);
    } finally {
      bare.cleanup();
    }
  });

  it("config path names the file in use and why: --config, then BTW_CONFIG, then ./btw.yml, then $BTW_HOME/btw.yml; with none, what init would write (exit 0)", async () => {
    const path = async (args: string[], opts: { env?: Record<string, string>; cwd?: string }) => {
      const r = await home.run(["config", "path", "--json", ...args], opts);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { path: string | null; via: string | null; home: string };
    };
    writeFileSync(join(cwd, "flag.yml"), FILE);
    writeFileSync(join(cwd, "env.yml"), FILE);
    expect(await path([], { cwd })).toEqual({ path: join(home.dir, "btw.yml"), via: "BTW_HOME", home: home.dir });
    writeFileSync(join(cwd, "btw.yml"), FILE);
    expect(await path([], { cwd })).toEqual({ path: join(cwd, "btw.yml"), via: "cwd", home: home.dir });
    expect(await path([], { cwd, env: { BTW_CONFIG: "env.yml" } })).toEqual({ path: join(cwd, "env.yml"), via: "BTW_CONFIG", home: home.dir });
    expect(await path(["--config", "flag.yml"], { cwd, env: { BTW_CONFIG: "env.yml" } })).toEqual({ path: join(cwd, "flag.yml"), via: "--config", home: home.dir });
    // the text form: the path and the reason, tab-separated
    const text = await home.run(["config", "path"], { cwd });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(`${join(cwd, "btw.yml")}\t(cwd)`);

    const bare = tempHome();
    try {
      const none = await bare.run(["config", "path"]);
      expect(none.code, none.stderr).toBe(0);
      expect(none.stdout).toBe(`none (btw init writes ${join(bare.dir, "btw.yml")})`);
      const j = await bare.run(["config", "path", "--json"]);
      expect(JSON.parse(j.stdout)).toEqual({ path: null, via: null, home: bare.dir });
    } finally {
      bare.cleanup();
    }
  });
});
