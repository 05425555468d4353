import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { btwHome, type ConfigSource } from "./home.js";
import { isAbsolute, join, resolve } from "node:path";
export { btwHome, findConfig, type ConfigSource } from "./home.js";
import { isMap, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import type { core } from "zod";
import { ConfigError } from "../errors.js";
import { configSchema, type Config } from "./schema.js";

export interface LoadedConfig {
  config: Config;
  source: ConfigSource;
  /** env variables that overrode file values (names only) */
  overrides: string[];
}

/** Environment variables that override the file: the name, and the dotted path it sets. */
export const envOverrides: ReadonlyArray<readonly [string, readonly string[]]> = [
  ["DATABASE_URL", ["database", "url"]],
  ["BTW_DATABASE_URL", ["database", "url"]], // after DATABASE_URL: the more specific one wins
  ["HCLOUD_TOKEN", ["hetzner", "token"]],
  ["BTW_DOMAIN", ["domain"]],
];

export function loadConfig(source: ConfigSource, env: NodeJS.ProcessEnv): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(source.path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new ConfigError(`no configuration file at ${source.path} (from ${source.via})`, {
        code: "config-missing",
        hint: "run `btw init`, or pass --config <file>",
      });
    }
    throw new ConfigError(`cannot read ${source.path}: ${(e as Error).message}`, { code: "config-unreadable" });
  }
  return { ...parseConfigText(text, source.path, env), source };
}

export function parseConfigText(text: string, path: string, env: NodeJS.ProcessEnv): Omit<LoadedConfig, "source"> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((err) => {
      const pos = err.linePos?.[0];
      return `${path}:${pos ? `${pos.line}:${pos.col}` : "?"}: ${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`;
    });
    throw new ConfigError(`${path} is not valid YAML:\n  ${problems.join("\n  ")}`, {
      code: "config-yaml",
      hint: "fix the YAML syntax at the line and column shown",
    });
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${path}: the configuration must be a mapping of keys (got ${Array.isArray(raw) ? "a list" : typeof raw})`, { code: "config-shape" });
  }

  const overrides: string[] = [];
  for (const [name, keyPath] of envOverrides) {
    const value = env[name];
    if (value) {
      setPath(raw as Record<string, unknown>, keyPath, value);
      overrides.push(name);
    }
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => describeIssue(issue, doc, lines, path));
    throw new ConfigError(`${path} has ${problems.length} error${problems.length === 1 ? "" : "s"}:\n  ${problems.join("\n  ")}`, {
      code: "config-invalid",
      hint: "`btw config schema` prints the JSON Schema of the file",
    });
  }
  return { config: expandPaths(parsed.data, env), overrides };
}

function describeIssue(issue: core.$ZodIssue, doc: Document, lines: LineCounter, file: string): string[] {
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `${file}:${lineOf(doc, lines, [...path, key], true)}: ${[...path, key].join(".")}: unknown key`);
  }
  const where = lineOf(doc, lines, path, false);
  return [`${file}:${where}: ${path.join(".") || "(top level)"}: ${issue.message}`];
}

/** The line of a value (or of its key, for unknown keys) in the YAML source. */
function lineOf(doc: Document, lines: LineCounter, path: string[], keyItself: boolean): string {
  // Walk down as far as the path exists: a missing key reports its parent's line.
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as { range?: [number] } | null)?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown })?.value ?? p.key) === segment);
      if (!pair) break;
      const key = pair.key as { range?: [number] };
      offset = keyItself || !(pair.value as { range?: [number] } | null)?.range ? key.range?.[0] : (pair.value as { range: [number] }).range[0];
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)] as { range?: [number] } | undefined;
      if (!item) break;
      offset = item.range?.[0];
      node = item;
    } else break;
  }
  if (offset === undefined) return "1";
  const pos = lines.linePos(offset);
  return `${pos.line}:${pos.col}`;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== "object" || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

export function expandPath(p: string, env: NodeJS.ProcessEnv): string {
  const home = btwHome(env);
  let out = p.replace(/^\$BTW_HOME(?=\/|$)/, home).replace(/^\$\{BTW_HOME\}(?=\/|$)/, home);
  if (out === "~" || out.startsWith("~/")) out = join(homedir(), out.slice(1));
  return isAbsolute(out) ? out : resolve(out);
}

function expandPaths(config: Config, env: NodeJS.ProcessEnv): Config {
  const storage = config.backup.storage.type === "dir" ? { ...config.backup.storage, path: expandPath(config.backup.storage.path, env) } : config.backup.storage;
  return {
    ...config,
    ssh: config.ssh.identityFile ? { ...config.ssh, identityFile: expandPath(config.ssh.identityFile, env) } : config.ssh,
    backup: { ...config.backup, storage },
  };
}
