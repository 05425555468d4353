// The terraform invocation, built by pure functions: paths, backend, argv, environment.
import { describe, expect, it } from "vitest";
import {
  applyArgs,
  backendFor,
  infraPaths,
  initArgs,
  outputArgs,
  planArgs,
  redact,
  secretValues,
  showPlanArgs,
  terraformEnv,
} from "../../../src/core/infra/terraform.js";

const paths = infraPaths("/home/op/.btw/infra", "platform");

describe("infraPaths", () => {
  it("keeps synth output, Terraform's data dir, the saved plan and local state apart", () => {
    expect(paths).toEqual({
      root: "/home/op/.btw/infra",
      outdir: "/home/op/.btw/infra/cdktf.out",
      manifest: "/home/op/.btw/infra/cdktf.out/manifest.json",
      stackDir: "/home/op/.btw/infra/cdktf.out/stacks/platform",
      dataDir: "/home/op/.btw/infra/terraform/platform",
      planFile: "/home/op/.btw/infra/terraform/platform/btw.tfplan",
      localState: "/home/op/.btw/infra/state/platform.tfstate",
    });
  });

  it("takes another outdir (infra synth --outdir)", () => {
    expect(infraPaths("/i", "platform", "/tmp/out").stackDir).toBe("/tmp/out/stacks/platform");
  });
});

describe("backendFor", () => {
  it("is local state under the infra dir without a database URL", () => {
    expect(backendFor(undefined, "btw_terraform", paths)).toEqual({ type: "local", path: "/home/op/.btw/infra/state/platform.tfstate" });
  });

  it("is Terraform's pg backend (schema only) with one", () => {
    expect(backendFor("postgres://u:p@db/btw", "btw_terraform", paths)).toEqual({ type: "pg", schemaName: "btw_terraform" });
  });
});

describe("terraform argv", () => {
  it("init: non-interactive; with a mirror, providers only from it", () => {
    expect(initArgs()).toEqual(["init", "-input=false", "-no-color"]);
    expect(initArgs({ pluginDir: "/srv/providers" })).toEqual(["init", "-input=false", "-no-color", "-plugin-dir=/srv/providers"]);
  });

  it("plan saves the plan; destroy plans the deletion", () => {
    expect(planArgs({ out: "/i/p.tfplan" })).toEqual(["plan", "-input=false", "-no-color", "-lock-timeout=60s", "-out=/i/p.tfplan"]);
    expect(planArgs({ out: "/i/p.tfplan", destroy: true })).toEqual(["plan", "-input=false", "-no-color", "-lock-timeout=60s", "-destroy", "-out=/i/p.tfplan"]);
  });

  it("apply runs exactly the saved plan; show and output print JSON", () => {
    expect(applyArgs("/i/p.tfplan")).toEqual(["apply", "-input=false", "-no-color", "-lock-timeout=60s", "-auto-approve", "/i/p.tfplan"]);
    expect(showPlanArgs("/i/p.tfplan")).toEqual(["show", "-json", "-no-color", "/i/p.tfplan"]);
    expect(outputArgs()).toEqual(["output", "-json", "-no-color"]);
  });

  it("never carries a secret", () => {
    const all = [...initArgs({ pluginDir: "/m" }), ...planArgs({ out: "/p" }), ...applyArgs("/p"), ...outputArgs()].join(" ");
    expect(all).not.toMatch(/token|conn|postgres:|HCLOUD/i);
  });
});

describe("terraformEnv", () => {
  const parent = {
    PATH: "/usr/bin",
    HOME: "/home/op",
    HTTPS_PROXY: "http://proxy:3128",
    TF_CLI_CONFIG_FILE: "/home/op/.terraformrc",
    BTW_MASTER_KEY: "master",
    BTW_DATABASE_URL: "postgres://u:p@db/btw",
    DATABASE_URL: "postgres://u:p@db/other",
    HCLOUD_TOKEN: "from-the-shell",
    PG_CONN_STR: "stale",
    UNSET: undefined,
  };

  it("passes the operator's environment, withholds btw's secrets, adds exactly what this run needs", () => {
    expect(terraformEnv(parent, { token: "tok", pgConnStr: "postgres://u:p@db/btw", dataDir: "/i/tf" })).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/op",
      HTTPS_PROXY: "http://proxy:3128",
      TF_CLI_CONFIG_FILE: "/home/op/.terraformrc",
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      TF_DATA_DIR: "/i/tf",
      HCLOUD_TOKEN: "tok",
      PG_CONN_STR: "postgres://u:p@db/btw",
    });
  });

  it("gives no token and no connection string to commands that do not need them", () => {
    const env = terraformEnv(parent, { dataDir: "/i/tf" });
    expect(env.HCLOUD_TOKEN).toBeUndefined();
    expect(env.PG_CONN_STR).toBeUndefined();
    expect(env.BTW_MASTER_KEY).toBeUndefined();
  });
});

describe("redaction", () => {
  it("blanks the token, the connection string and its password (also URL-encoded)", () => {
    const secrets = secretValues({ token: "abcd-token-1234", pgConnStr: "postgres://btw:p%40ss-word@db:5432/btw" });
    expect(secrets).toEqual(["postgres://btw:p%40ss-word@db:5432/btw", "abcd-token-1234", "p%40ss-word", "p@ss-word"]);
    const text = "token abcd-token-1234; url postgres://btw:p%40ss-word@db:5432/btw; pq: password p@ss-word rejected";
    expect(redact(text, secrets)).toBe("token [REDACTED]; url [REDACTED]; pq: password [REDACTED] rejected");
  });
});
