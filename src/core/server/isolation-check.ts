// Is the tenant isolation of a server in force? The live rules (`iptables-save` of the filter
// table, read over SSH) against the ones btw renders (isolation.ts), both brought to one
// canonical form, so what iptables-save prints differently from what was given — option order
// (`-p` before the matches), `/32` on a host, host bits in a network, the order of a
// `--ctstate` list, an implicit `-m tcp` — is no drift, while a missing, extra or reordered
// rule is. Pure: readiness (`server check`, `server add`), `status` and `doctor` share it.

import { DOCKER_USER_CHAIN, ISOLATION_CHAIN, ISOLATION_INPUT_CHAIN, isolationRules, type IsolationInput } from "./isolation.js";

/**
 * in-place: the chains hold exactly the rendered rules and are jumped to. drift: they are
 * jumped to but hold other rules (an older rendering — a server added since, a changed
 * range — or a hand edit). missing: a chain absent or empty (a flush), or not jumped to —
 * nothing is filtered. unknown: the rules could not be read.
 */
export type IsolationState = "in-place" | "drift" | "missing" | "unknown";

export interface IsolationCheck {
  state: IsolationState;
  /** one line each, naming the fix */
  problems: string[];
}

/** How long the remote read may take (the SSH call's own deadline sits above it). */
export const ISOLATION_READ_TIMEOUT_SEC = 20;

/** The filter table as the kernel holds it, bounded in time: only read, nothing changed. */
export function isolationLiveCommand(): string[] {
  return ["timeout", String(ISOLATION_READ_TIMEOUT_SEC), "iptables-save", "-t", "filter"];
}

/** Whether placement may put tenants on a server, from the isolation its last check recorded. */
export function isolationInPlace(facts: Readonly<Record<string, unknown>> | null | undefined): boolean {
  return facts?.isolation === "in-place" || facts?.isolation === "drift";
}

/** A saved table: the chains it declares and each chain's rules (argv after `-A <chain>`), in order. */
export interface SavedTable {
  chains: Set<string>;
  rules: Map<string, string[][]>;
}

/** Words of one iptables-save line; "…" quoting (comments) kept together. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!);
  return out;
}

/** The filter table of `iptables-save` output (the whole text when it has no `*filter` header). */
export function parseIptablesSave(text: string): SavedTable {
  const lines = text.split("\n").map((l) => l.trim());
  const start = lines.indexOf("*filter");
  const body = start < 0 ? lines : lines.slice(start + 1, lines.indexOf("COMMIT", start) < 0 ? undefined : lines.indexOf("COMMIT", start));
  const table: SavedTable = { chains: new Set(), rules: new Map() };
  for (const line of body) {
    if (line.startsWith(":")) {
      const chain = line.slice(1).split(/\s+/)[0]!;
      table.chains.add(chain);
      if (!table.rules.has(chain)) table.rules.set(chain, []);
    } else if (line.startsWith("-A ")) {
      const [, chain, ...rest] = words(line);
      if (!chain) continue;
      if (!table.rules.has(chain)) table.rules.set(chain, []);
      table.rules.get(chain)!.push(rest);
    }
  }
  return table;
}

function ipv4ToInt(a: string): number | null {
  const p = a.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return null;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** `10.0.1.12` → `10.0.1.12/32`; host bits cleared (`10.220.1.0/16` → `10.220.0.0/16`). */
function canonicalAddress(value: string): string {
  const [addr, bitsText] = value.split("/");
  const n = ipv4ToInt(addr!);
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (n === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return value;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join(".")}/${bits}`;
}

const BASE: Record<string, string> = { "-s": "s", "--source": "s", "-d": "d", "--destination": "d", "-i": "i", "--in-interface": "i", "-o": "o", "--out-interface": "o", "-p": "p", "--protocol": "p" };
const LIST_OPTIONS = new Set(["--ctstate", "--state"]);

/**
 * One rule (the words after `-A <chain>`) in a form that does not depend on how it was
 * written: base matches by name, extension matches sorted by module, the target last.
 */
export function canonicalRule(argv: readonly string[]): string {
  const base: string[] = [];
  const matches: string[][] = [];
  let target: string[] = [];
  let current: string[] | null = null;
  let negate = false;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === "!") {
      negate = true;
      continue;
    }
    const not = negate ? "!" : "";
    negate = false;
    if (BASE[w] !== undefined) {
      const key = BASE[w]!;
      const value = argv[++i] ?? "";
      base.push(`${not}${key}=${key === "s" || key === "d" ? canonicalAddress(value) : key === "p" ? value.toLowerCase() : value}`);
      current = null;
    } else if (w === "-m" || w === "--match") {
      current = [argv[++i] ?? ""];
      matches.push(current);
    } else if (w === "-j" || w === "--jump") {
      target = [argv[++i] ?? ""];
      current = target;
    } else if (current) {
      current.push(LIST_OPTIONS.has(argv[i - 1] ?? "") ? w.split(",").sort().join(",") : `${not}${w}`);
    } else {
      base.push(`${not}${w}`);
    }
  }
  // `-p tcp` implies the tcp match; iptables-save may print it without options
  const extensions = matches.filter((m) => !(m.length === 1 && (m[0] === "tcp" || m[0] === "udp"))).map((m) => m.join(" "));
  return [base.sort().join(" "), extensions.sort().join(" ; "), target.join(" ")].join(" | ");
}

function chainProblems(chain: string, expected: readonly string[][], live: readonly string[][]): string[] {
  const want = expected.map(canonicalRule);
  const have = live.map(canonicalRule);
  if (want.length === have.length && want.every((w, k) => w === have[k])) return [];
  const remaining = [...have];
  const missing: string[] = [];
  expected.forEach((argv, k) => {
    const at = remaining.indexOf(want[k]!);
    if (at < 0) missing.push(["-A", chain, ...argv].join(" "));
    else remaining.splice(at, 1);
  });
  const extra = live.filter((argv) => {
    const c = canonicalRule(argv);
    const at = remaining.indexOf(c);
    if (at < 0) return false;
    remaining.splice(at, 1);
    return true;
  });
  if (missing.length === 0 && extra.length === 0) return [`${chain}: the rules are in another order than btw's`];
  const show = (list: string[]) => list.slice(0, 2).map((l) => `\`${l}\``).join(", ") + (list.length > 2 ? ", …" : "");
  return [
    `${chain}: ${[missing.length ? `${missing.length} rule(s) missing (${show(missing)})` : "", extra.length ? `${extra.length} rule(s) btw did not render (${show(extra.map((a) => ["-A", chain, ...a].join(" ")))})` : ""].filter(Boolean).join(", ")}`,
  ];
}

/** The rendered rules (without `-A <chain>`) of each chain, in order. */
function renderedByChain(expected: IsolationInput): Map<string, string[][]> {
  const byChain = new Map<string, string[][]>([
    [ISOLATION_CHAIN, []],
    [ISOLATION_INPUT_CHAIN, []],
  ]);
  for (const rule of isolationRules(expected)) byChain.get(rule[1]!)!.push(rule.slice(2));
  return byChain;
}

/**
 * The live rules of server `name` (its `iptables-save -t filter` output, or why it could
 * not be read) against the rules btw renders for it.
 */
export function checkIsolation(name: string, expected: IsolationInput, live: { saved: string } | { error: string }): IsolationCheck {
  const fix = `run \`btw server isolate ${name}\``;
  if ("error" in live) return { state: "unknown", problems: [`the tenant isolation rules on ${name} could not be read (${live.error}): ${fix} (as root)`] };
  const table = parseIptablesSave(live.saved);
  const missing: string[] = [];
  for (const chain of [ISOLATION_CHAIN, ISOLATION_INPUT_CHAIN]) {
    if (!table.chains.has(chain)) missing.push(`no ${chain} chain`);
    else if ((table.rules.get(chain) ?? []).length === 0) missing.push(`${chain} is empty (flushed)`);
  }
  const jumped = (from: string, to: string) => (table.rules.get(from) ?? []).some((r) => canonicalRule(r) === canonicalRule(["-j", to]));
  if (!jumped(DOCKER_USER_CHAIN, ISOLATION_CHAIN)) missing.push(`${DOCKER_USER_CHAIN} does not jump to ${ISOLATION_CHAIN}`);
  if (!jumped("INPUT", ISOLATION_INPUT_CHAIN)) missing.push(`INPUT does not jump to ${ISOLATION_INPUT_CHAIN}`);
  if (missing.length) return { state: "missing", problems: [`tenant isolation is not in force on ${name} (${missing.join("; ")}): tenants can reach the host and the platform; ${fix}`] };
  const drift = [...renderedByChain(expected)].flatMap(([chain, rules]) => chainProblems(chain, rules, table.rules.get(chain) ?? []));
  if (drift.length) return { state: "drift", problems: [`the tenant isolation rules on ${name} differ from btw's: ${drift.join("; ")}; ${fix}`] };
  return { state: "in-place", problems: [] };
}
