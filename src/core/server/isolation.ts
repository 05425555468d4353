// Tenants cannot reach the platform: host firewall rules that stop a tenant's containers
// (the tenant subnet pool) from reaching the host, the private network, the other servers
// and the cloud metadata service, while the internet stays open (workflows call OpenAI,
// WordPress…). Pure: the rules as argv, the script that applies them, its systemd unit.
//
// Where the rules live:
// - BTW-ISOLATION, jumped to from DOCKER-USER: traffic the host *forwards* out of a tenant
//   network (to other machines, and to the host's published ports after Docker's DNAT).
//   dockerd never flushes DOCKER-USER and re-creates only its own chains, so the jump and
//   this chain survive `systemctl restart docker`.
// - BTW-ISOLATION-INPUT, jumped to from INPUT: traffic *to the host itself* (sshd, node
//   exporter, the Docker metrics port), which never passes FORWARD/DOCKER-USER.
// Both chains are declared in one `iptables-restore --noflush` input: each is created if
// missing, flushed and refilled in one atomic commit (no window without rules), and every
// other chain is left alone. Kernel rules do not survive a reboot: the systemd unit re-runs
// the script at boot before Docker starts its containers, and again whenever Docker
// restarts (PartOf), so a flushed ruleset never stays flushed.
//
// IPv4 only: tenant networks have no IPv6 (Compose networks default to IPv4).

import { UsageError } from "../../errors.js";
import { shellJoin } from "../shell.js";
import { cidrProblem } from "../subnets.js";

export const ISOLATION_CHAIN = "BTW-ISOLATION";
export const ISOLATION_INPUT_CHAIN = "BTW-ISOLATION-INPUT";
export const DOCKER_USER_CHAIN = "DOCKER-USER";
/** Link-local, which holds the cloud metadata service 169.254.169.254. */
export const LINK_LOCAL = "169.254.0.0/16";
/** The public web listeners anyone on the internet may reach: a tenant may too (its own public URL). */
export const PUBLIC_WEB_PORTS = [80, 443] as const;

export const ISOLATION_LAYOUT = {
  dir: "/opt/btw/isolation",
  script: "/opt/btw/isolation/apply.sh",
  unitName: "btw-isolation.service",
  unitFile: "/etc/systemd/system/btw-isolation.service",
} as const;

export interface IsolationInput {
  /** where tenants' containers live: placement.subnetPool */
  tenantSources: readonly string[];
  /** the private network: hetzner.networkRange (plus any other internal range) */
  privateRanges: readonly string[];
  /** the other servers' addresses (IPv4 only; IPv6 ones are skipped) */
  otherServers: readonly string[];
  /**
   * Behind the edge (edge.switch done): the server's private address, the only destination
   * on which its proxy's web listeners (80, 443) still take new connections — the others are
   * refused here, in the firewall, while the proxy keeps publishing on every address: closing
   * the public side is a rule change, not a proxy recreate (no stall for the edge's requests).
   */
  webOnlyTo?: string;
}

const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;

function cidr(value: string, what: string): string {
  const problem = cidrProblem(value);
  if (problem) throw new UsageError(`isolation rules: ${what} ${JSON.stringify(value)}: ${problem}`, { code: "invalid-cidr" });
  return value;
}

/** The rules of both chains, each as iptables arguments (`-A <chain> …`), in order. */
export function isolationRules(input: IsolationInput): string[][] {
  if (input.tenantSources.length === 0) throw new UsageError("isolation rules: no tenant source range", { code: "invalid-cidr" });
  const sources = input.tenantSources.map((s) => cidr(s, "tenant range"));
  const ranges = input.privateRanges.map((r) => cidr(r, "private range"));
  const servers = [...new Set(input.otherServers.filter((s) => IPV4.test(s)))].sort().map((s) => cidr(`${s}/32`, "server address"));
  const web = ["-p", "tcp", "-m", "multiport", "--dports", PUBLIC_WEB_PORTS.join(",")];
  const F = ["-A", ISOLATION_CHAIN];
  const I = ["-A", ISOLATION_INPUT_CHAIN];
  const established = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"];
  if (input.webOnlyTo !== undefined && !IPV4.test(input.webOnlyTo)) throw new UsageError(`isolation rules: the private address ${JSON.stringify(input.webOnlyTo)} is not IPv4`, { code: "invalid-cidr" });
  // written as iptables-save prints them (the check compares that form): the original
  // destination before Docker's DNAT, a host address without /32
  const webClosed = input.webOnlyTo === undefined
    ? []
    : ([["tcp", "80", "REJECT"], ["tcp", "443", "REJECT"], ["udp", "443", "DROP"]] as const).map(([proto, port, verdict]) => [
        ...F, "-p", proto, "-m", "conntrack", "--ctstate", "DNAT", "!", "--ctorigdst", input.webOnlyTo!, "--ctorigdstport", port,
        "-j", verdict, ...(verdict === "REJECT" ? ["--reject-with", "tcp-reset"] : []),
      ]);
  return [
    // replies to connections someone else opened (the proxy, Prometheus) pass
    [...F, ...established],
    // behind the edge: public 80/443 closed to new connections (refused: a reset, not a hang)
    ...webClosed,
    ...sources.flatMap((src) => [
      // the host's own published ports arrive here after Docker's DNAT: only its public web
      // listeners, never the private metrics listener. Before the pool rule below: the
      // proxy that publishes them sits in the pool too (on every tenant's edge network), so
      // a DNAT-ed request to the metrics port is pool → pool and would pass there.
      [...F, "-s", src, "-m", "conntrack", "--ctstate", "DNAT", ...web, "-j", "RETURN"],
      [...F, "-s", src, "-m", "conntrack", "--ctstate", "DNAT", "-j", "DROP"],
      // inside the pool: Docker's own per-network isolation decides (n8n → its Postgres)
      [...F, "-s", src, "-d", src, "-j", "RETURN"],
      [...F, "-s", src, "-d", LINK_LOCAL, "-j", "DROP"],
      ...ranges.map((r) => [...F, "-s", src, "-d", r, "-j", "DROP"]),
      ...servers.flatMap((s) => [
        [...F, "-s", src, "-d", s, ...web, "-j", "RETURN"],
        [...F, "-s", src, "-d", s, "-j", "DROP"],
      ]),
    ]),
    // everything else from tenants: the internet
    [...F, "-j", "RETURN"],
    [...I, ...established],
    ...sources.flatMap((src) => [
      [...I, "-s", src, ...web, "-j", "RETURN"],
      [...I, "-s", src, "-j", "DROP"],
    ]),
    [...I, "-j", "RETURN"],
  ];
}

/**
 * One rule as an iptables-restore line. Not a shell line: iptables-restore reads words split on
 * spaces and takes quotes literally (a shell-quoted `'!'` is "Bad argument"), so every word
 * must be plain — they are (validated addresses, fixed options); anything else throws.
 */
export function restoreLine(rule: readonly string[]): string {
  for (const w of rule) if (!/^[A-Za-z0-9!,./:_-]+$/.test(w)) throw new UsageError(`isolation rules: ${JSON.stringify(w)} cannot be written to iptables-restore`, { code: "invalid-rule" });
  return rule.join(" ");
}

/** `iptables-restore --noflush` input: both chains declared (created or flushed), refilled, one commit. */
export function isolationRestoreInput(input: IsolationInput): string {
  return ["*filter", `:${ISOLATION_CHAIN} - [0:0]`, `:${ISOLATION_INPUT_CHAIN} - [0:0]`, ...isolationRules(input).map(restoreLine), "COMMIT", ""].join("\n");
}

/** A check and the command that makes it true: run `fix` only when `check` fails. */
export interface Ensure {
  check: string[];
  fix: string[];
}

/**
 * DOCKER-USER exists (dockerd keeps an existing one; at boot the script runs first) and
 * both jumps sit first in their chains.
 */
export function isolationEnsures(): Ensure[] {
  return [
    { check: ["iptables", "-w", "-n", "-L", DOCKER_USER_CHAIN], fix: ["iptables", "-w", "-N", DOCKER_USER_CHAIN] },
    { check: ["iptables", "-w", "-C", DOCKER_USER_CHAIN, "-j", ISOLATION_CHAIN], fix: ["iptables", "-w", "-I", DOCKER_USER_CHAIN, "1", "-j", ISOLATION_CHAIN] },
    { check: ["iptables", "-w", "-C", "INPUT", "-j", ISOLATION_INPUT_CHAIN], fix: ["iptables", "-w", "-I", "INPUT", "1", "-j", ISOLATION_INPUT_CHAIN] },
  ];
}

/** The script the host runs (from btw and from systemd): every word quoted by shellJoin. */
export function isolationScript(input: IsolationInput): string {
  const restore = isolationRestoreInput(input);
  return [
    "#!/bin/sh",
    "# btw: tenants cannot reach the platform. Written by btw (`btw server bootstrap`); edits are lost.",
    "# Run at boot and on every Docker restart by btw-isolation.service.",
    "set -eu",
    // the chains first (the jumps need them), atomically
    `${shellJoin(["iptables-restore", "-w", "--noflush"])} <<'BTW_RULES'`,
    restore.trimEnd(),
    "BTW_RULES",
    ...isolationEnsures().map((e) => `${shellJoin(e.check)} >/dev/null 2>&1 || ${shellJoin(e.fix)}`),
    "echo btw-isolation applied",
    "",
  ].join("\n");
}

export function renderIsolationUnit(): string {
  return [
    "# btw: tenants cannot reach the platform (iptables). Written by btw; edits are lost.",
    "[Unit]",
    "Description=btw tenant isolation firewall rules",
    "After=network-pre.target",
    // before Docker starts containers at boot; PartOf: a Docker restart re-runs it
    "Before=docker.service",
    "PartOf=docker.service",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=/bin/sh ${ISOLATION_LAYOUT.script}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target docker.service",
    "",
  ].join("\n");
}

/** Apply now (the script is idempotent). */
export function isolationApply(): string[] {
  return ["sh", ISOLATION_LAYOUT.script];
}

/** Exit 0 when the host runs systemd (the lab's Docker-in-Docker servers do not). */
export function systemdRunning(): string[] {
  return ["test", "-d", "/run/systemd/system"];
}

export function isolationEnableUnit(): string[][] {
  return [
    ["systemctl", "daemon-reload"],
    ["systemctl", "enable", ISOLATION_LAYOUT.unitName],
  ];
}

/** The rules as installed now (`iptables -S <chain>`), for checks. */
export function isolationShow(chain: string = ISOLATION_CHAIN): string[] {
  return ["iptables", "-w", "-S", chain];
}
