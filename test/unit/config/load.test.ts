import { describe, expect, it } from "vitest";
import { findConfig, parseConfigText } from "../../../src/config/load.js";
import { redactConfig, REDACTED } from "../../../src/config/redact.js";

describe("findConfig", () => {
  const exists = (set: string[]) => (p: string) => set.includes(p);
  const env = { BTW_HOME: "/h" };

  it("prefers --config, then BTW_CONFIG, then ./btw.yml, then $BTW_HOME/btw.yml", () => {
    const all = exists(["/cwd/btw.yml", "/h/btw.yml"]);
    expect(findConfig({ flag: "x.yml", env: { ...env, BTW_CONFIG: "/e.yml" }, cwd: "/cwd", exists: all })).toEqual({ path: "/cwd/x.yml", via: "--config" });
    expect(findConfig({ env: { ...env, BTW_CONFIG: "/e.yml" }, cwd: "/cwd", exists: all })).toEqual({ path: "/e.yml", via: "BTW_CONFIG" });
    expect(findConfig({ env, cwd: "/cwd", exists: all })).toEqual({ path: "/cwd/btw.yml", via: "cwd" });
    expect(findConfig({ env, cwd: "/cwd", exists: exists(["/h/btw.yml"]) })).toEqual({ path: "/h/btw.yml", via: "BTW_HOME" });
    expect(findConfig({ env, cwd: "/cwd", exists: exists([]) })).toBeNull();
  });
});

describe("parseConfigText", () => {
  it("fills every default from a minimal file", () => {
    const { config } = parseConfigText("domain: example.com\n", "btw.yml", { BTW_HOME: "/h" });
    expect(config.plans.pro).toMatchObject({ weight: 2, queueMode: false, n8n: { cpus: 2, cpuReserved: 0.5, memoryMb: 1536, pids: 512 } });
    expect(config.plans.business!.queueMode).toBe(true);
    expect(config.backup.storage).toEqual({ type: "dir", path: "/h/backups" });
    expect(config.images.n8n).toBe("docker.n8n.io/n8nio/n8n:2.8.4");
    expect(config.hetzner.serverType).toBe("cpx32");
  });

  it("plans overlay the default table: a partial entry changes only its keys, a new name stands alone, null removes one", () => {
    const text = "domain: example.com\nplans:\n  starter:\n    n8n: {cpus: 2}\n  enterprise: null\n  solo:\n    priceEurMonth: 9\n    executionsPerMonth: 100\n    activeWorkflows: 1\n    articlesPerWeek: 1\n    support: email\n    weight: 1\n    n8n: {cpus: 0.25, memoryMb: 512, pids: 128}\n    postgres: {cpus: 0.25, memoryMb: 128, pids: 100}\n    redis: {cpus: 0.1, memoryMb: 64, pids: 32}\n";
    const { config } = parseConfigText(text, "btw.yml", { BTW_HOME: "/h" });
    expect(config.plans.starter).toMatchObject({ priceEurMonth: 49, n8n: { cpus: 2, memoryMb: 768, pids: 256 }, postgres: { cpus: 0.5 } });
    expect(config.plans.pro!.n8n.cpus).toBe(2);
    expect(config.plans.enterprise).toBeUndefined();
    expect(config.plans.solo!.weight).toBe(1);
    expect(() => parseConfigText("domain: example.com\nplans:\n  solo:\n    weight: 1\n", "btw.yml", { BTW_HOME: "/h" })).toThrow(/plans/);
  });

  it("applies env overrides, the more specific BTW_DATABASE_URL winning", () => {
    const { config, overrides } = parseConfigText("domain: example.com\ndatabase:\n  url: postgres://file/db\n", "btw.yml", {
      DATABASE_URL: "postgres://generic/db",
      BTW_DATABASE_URL: "postgres://btw/db",
      HCLOUD_TOKEN: "tok",
    });
    expect(config.database.url).toBe("postgres://btw/db");
    expect(config.hetzner.token).toBe("tok");
    expect(overrides).toEqual(["DATABASE_URL", "BTW_DATABASE_URL", "HCLOUD_TOKEN"]);
  });

  it("refuses a fractional plan weight, naming the plan: the state counts capacity in whole units", () => {
    const text = "domain: example.com\nplans:\n  starter:\n    weight: 0.5\n";
    expect(() => parseConfigText(text, "btw.yml", { BTW_HOME: "/h" })).toThrow(/plans\.starter\.weight.*whole number of capacity units/);
    expect(parseConfigText("domain: example.com\nplans:\n  starter:\n    weight: 3\n", "btw.yml", { BTW_HOME: "/h" }).config.plans.starter!.weight).toBe(3);
  });

  it("rejects a file that is not a mapping", () => {
    expect(() => parseConfigText("- a\n", "btw.yml", {})).toThrow(/must be a mapping/);
  });

  it("rejects duplicate keys with their line", () => {
    expect(() => parseConfigText("domain: a.com\ndomain: b.com\n", "btw.yml", {})).toThrow(/btw\.yml:2:1: Map keys must be unique/);
  });
});

describe("redactConfig", () => {
  it("replaces every secret and leaves the rest", () => {
    const { config } = parseConfigText(
      "domain: example.com\ndatabase:\n  url: postgres://u:pw@h/db\nhetzner:\n  token: t0k\nbackup:\n  storage:\n    type: s3\n    bucket: bkt\n    secretAccessKey: sk\n    accessKeyId: ak\n",
      "btw.yml",
      {},
    );
    const safe = redactConfig(config);
    expect(safe.database.url).toBe(REDACTED);
    expect(safe.hetzner.token).toBe(REDACTED);
    expect(safe.backup.storage).toMatchObject({ secretAccessKey: REDACTED, accessKeyId: "ak", bucket: "bkt" });
    expect(JSON.stringify(safe)).not.toMatch(/pw@|t0k|"sk"/);
    expect(config.hetzner.token).toBe("t0k"); // the original is untouched
  });
});
