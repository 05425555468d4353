import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { deployOrder, parseManifest } from "../../../src/core/workflows/manifest.js";
import { shippedManifest } from "./helpers.js";

const VALID = `
schemaVersion: 1
credentials:
  db: { type: postgres }
  ai: { type: openAiApi }
workflows:
  wf1:
    name: One
    file: one.json
    version: 3
    credentials: [db, ai]
    calls: [wf2]
    trigger: Start
    changelog:
      - { version: 3, changes: [c] }
      - { version: 2, changes: [b] }
  wf2:
    name: Two
    file: two.json
    version: 1.0.0
    trigger: Called
    changelog: [{ version: 1.0.0, changes: [a] }]
`;

function problems(text: string): string {
  try {
    parseManifest(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected the manifest to be rejected");
}

describe("workflows/manifest.yml", () => {
  it("ships WF1, WF2, WF3 with their credentials by name", () => {
    const m = shippedManifest();
    expect(m.credentials.map((c) => [c.name, c.type])).toEqual([
      ["btw Postgres", "postgres"],
      ["btw OpenAI", "openAiApi"],
      ["btw WordPress", "wordpressApi"],
    ]);
    expect(m.workflows.map((w) => [w.key, w.file, w.calls, w.parameters])).toEqual([
      ["wf1", "WF1_seed_expansion.json", ["wf2"], []],
      ["wf2", "WF2_clustering.json", [], []],
      ["wf3", "WF3_generation.json", [], ["wordpressUrl"]],
    ]);
    for (const w of m.workflows) expect(w.changelog[0]!.version).toBe(w.version);
  });

  it("deploys WF2 before WF1", () => {
    expect(deployOrder(shippedManifest().workflows).map((w) => w.key)).toEqual(["wf2", "wf1", "wf3"]);
  });
});

describe("parseManifest", () => {
  it("parses versions as text, defaults lists, keeps the file's order", () => {
    const m = parseManifest(VALID);
    expect(m.workflows.map((w) => [w.key, w.version, w.credentials, w.calls, w.parameters])).toEqual([
      ["wf1", "3", ["db", "ai"], ["wf2"], []],
      ["wf2", "1.0.0", [], [], []],
    ]);
    expect(m.workflows[0]!.changelog.map((c) => c.version)).toEqual(["3", "2"]);
  });

  it("rejects unknown keys and bad values, listing every problem", () => {
    const msg = problems(VALID.replace("version: 3\n", "version: 3\n    colour: red\n").replace("file: two.json", "file: ../two.txt"));
    expect(msg).toMatch(/2 errors/);
    expect(msg).toMatch(/colour/);
    expect(msg).toMatch(/workflows\.wf2\.file: must be a \.json file name/);
  });

  it("checks references between sections", () => {
    const msg = problems(VALID.replace("credentials: [db, ai]", "credentials: [db, smtp]").replace("calls: [wf2]", "calls: [wf2, wf9]"));
    expect(msg).toMatch(/wf1\.credentials: 'smtp' is not listed under credentials/);
    expect(msg).toMatch(/wf1\.calls: 'wf9' is not a workflow/);
  });

  it("requires the newest changelog entry to be the current version", () => {
    expect(problems(VALID.replace("version: 3\n", "version: 4\n"))).toMatch(/first \(newest\) entry must be version 4, not 3/);
  });

  it("rejects call cycles", () => {
    const cyclic = VALID.replace("    trigger: Called", "    calls: [wf1]\n    trigger: Called");
    expect(problems(cyclic)).toMatch(/cycle: wf1 -> wf2 -> wf1/);
  });

  it("rejects versions that are neither integers nor semver", () => {
    expect(problems(VALID.replace("version: 1.0.0\n    trigger", "version: v1\n    trigger"))).toMatch(/integer or semver/);
  });

  it("rejects invalid YAML with one line", () => {
    expect(problems("workflows: [")).toMatch(/not valid YAML/);
  });
});

describe("deployOrder", () => {
  it("puts callees first and otherwise keeps the given order", () => {
    const order = deployOrder([
      { key: "a", calls: ["c"] },
      { key: "b", calls: [] },
      { key: "c", calls: ["d"] },
      { key: "d", calls: [] },
    ]);
    expect(order.map((w) => w.key)).toEqual(["d", "c", "a", "b"]);
  });
});
