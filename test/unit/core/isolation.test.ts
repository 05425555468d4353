// Tenants cannot reach the platform: the rules as argv (exact), the script and unit around
// them, and — where this machine lets us make a network namespace — the script applied by
// the real iptables twice (idempotent), then with another server set (flushed and refilled).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  isolationApply,
  isolationEnableUnit,
  isolationEnsures,
  isolationRestoreInput,
  isolationRules,
  isolationScript,
  renderIsolationUnit,
  type IsolationInput,
} from "../../../src/core/server/isolation.js";
import { UsageError } from "../../../src/errors.js";

const input: IsolationInput = { tenantSources: ["10.220.0.0/16"], privateRanges: ["10.0.0.0/16"], otherServers: ["203.0.113.12", "10.0.1.12", "2001:db8::12", "203.0.113.12"] };
const WEB = ["-p", "tcp", "-m", "multiport", "--dports", "80,443"];

describe("isolationRules", () => {
  it("forwarded traffic from tenants: the host's DNAT-ed ports only 80/443 (before anything lets pool traffic pass), no metadata, no private network, other servers only on 80/443; the internet open", () => {
    const F = ["-A", "BTW-ISOLATION", "-s", "10.220.0.0/16"];
    const I = ["-A", "BTW-ISOLATION-INPUT"];
    expect(isolationRules(input)).toEqual([
      ["-A", "BTW-ISOLATION", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"],
      // the host's published ports after Docker's DNAT: 80/443 only — before the pool rule, as
      // the proxy behind them is in the pool too
      [...F, "-m", "conntrack", "--ctstate", "DNAT", ...WEB, "-j", "RETURN"],
      [...F, "-m", "conntrack", "--ctstate", "DNAT", "-j", "DROP"],
      [...F, "-d", "10.220.0.0/16", "-j", "RETURN"],
      [...F, "-d", "169.254.0.0/16", "-j", "DROP"],
      [...F, "-d", "10.0.0.0/16", "-j", "DROP"],
      // each other server once, IPv4 only, sorted
      [...F, "-d", "10.0.1.12/32", ...WEB, "-j", "RETURN"],
      [...F, "-d", "10.0.1.12/32", "-j", "DROP"],
      [...F, "-d", "203.0.113.12/32", ...WEB, "-j", "RETURN"],
      [...F, "-d", "203.0.113.12/32", "-j", "DROP"],
      ["-A", "BTW-ISOLATION", "-j", "RETURN"],
      // to the host itself (sshd, exporters): only its public web listeners
      [...I, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"],
      [...I, "-s", "10.220.0.0/16", ...WEB, "-j", "RETURN"],
      [...I, "-s", "10.220.0.0/16", "-j", "DROP"],
      [...I, "-j", "RETURN"],
    ]);
  });

  it.each([
    [{ tenantSources: [] }],
    [{ tenantSources: ["10.220.0.0/16 -j ACCEPT"] }],
    [{ privateRanges: ["10.0.0.0/33"] }],
    [{ privateRanges: ["10.0.0.0/16\nCOMMIT"] }],
  ])("refuses %j (values are spliced into iptables-restore input)", (override) => {
    expect(() => isolationRules({ ...input, ...override })).toThrow(UsageError);
  });
});

describe("the restore input, the script and the unit", () => {
  it("declares both chains (created or flushed) and refills them in one commit, touching no other chain", () => {
    const text = isolationRestoreInput(input);
    const lines = text.split("\n");
    expect(lines.slice(0, 3)).toEqual(["*filter", ":BTW-ISOLATION - [0:0]", ":BTW-ISOLATION-INPUT - [0:0]"]);
    expect(lines.slice(-2)).toEqual(["COMMIT", ""]);
    expect(lines[3]).toBe("-A BTW-ISOLATION -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN");
    expect(lines.filter((l) => l.startsWith(":"))).toHaveLength(2);
    expect(text).not.toContain("DOCKER-USER");
  });

  it("ensures DOCKER-USER and the two jumps, each checked before it is added", () => {
    expect(isolationEnsures()).toEqual([
      { check: ["iptables", "-w", "-n", "-L", "DOCKER-USER"], fix: ["iptables", "-w", "-N", "DOCKER-USER"] },
      { check: ["iptables", "-w", "-C", "DOCKER-USER", "-j", "BTW-ISOLATION"], fix: ["iptables", "-w", "-I", "DOCKER-USER", "1", "-j", "BTW-ISOLATION"] },
      { check: ["iptables", "-w", "-C", "INPUT", "-j", "BTW-ISOLATION-INPUT"], fix: ["iptables", "-w", "-I", "INPUT", "1", "-j", "BTW-ISOLATION-INPUT"] },
    ]);
    const script = isolationScript(input);
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain("set -eu\niptables-restore -w --noflush <<'BTW_RULES'\n*filter\n");
    expect(script).toContain("COMMIT\nBTW_RULES\n");
    expect(script).toContain("iptables -w -C DOCKER-USER -j BTW-ISOLATION >/dev/null 2>&1 || iptables -w -I DOCKER-USER 1 -j BTW-ISOLATION\n");
  });

  it("the unit runs the script before Docker at boot and again on every Docker restart", () => {
    const unit = renderIsolationUnit();
    for (const line of ["Before=docker.service", "PartOf=docker.service", "Type=oneshot", "RemainAfterExit=yes", "ExecStart=/bin/sh /opt/btw/isolation/apply.sh", "WantedBy=multi-user.target docker.service"]) {
      expect(unit.split("\n")).toContain(line);
    }
    expect(isolationEnableUnit()).toEqual([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "btw-isolation.service"],
    ]);
    expect(isolationApply()).toEqual(["sh", "/opt/btw/isolation/apply.sh"]);
  });
});

// A private network namespace: the real iptables, no effect on this machine's own rules.
// npm test installs iptables and unshare (scripts/ensure-deps.sh) and runs as root, as CI does.
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the script under the real iptables (a fresh network namespace; needs root and unshare)", () => {
  it("applies, re-applies without duplicating anything, keeps others' DOCKER-USER rules, and replaces a stale rule set", () => {
    const dir = mkdtempSync(join(tmpdir(), "btw-isolation-"));
    dirs.push(dir);
    writeFileSync(join(dir, "a.sh"), isolationScript(input));
    writeFileSync(join(dir, "b.sh"), isolationScript({ ...input, otherServers: ["198.51.100.7"] }));
    const r = spawnSync(
      "unshare",
      ["-n", "sh", "-c", `set -e; iptables -w -N DOCKER-USER; iptables -w -A DOCKER-USER -j RETURN; sh ${dir}/a.sh; sh ${dir}/a.sh; iptables -w -S > ${dir}/twice; sh ${dir}/b.sh; iptables -w -S`],
      { encoding: "utf8" },
    );
    expect([r.status, r.stderr]).toEqual([0, ""]);
    const after = r.stdout.split("\n").filter(Boolean);
    // jumps once each, first in their chains; Docker's own RETURN kept after ours
    expect(after.filter((l) => l.includes("-j BTW-ISOLATION"))).toEqual(["-A INPUT -j BTW-ISOLATION-INPUT", "-A DOCKER-USER -j BTW-ISOLATION"]);
    expect(after.filter((l) => l.startsWith("-A DOCKER-USER"))).toEqual(["-A DOCKER-USER -j BTW-ISOLATION", "-A DOCKER-USER -j RETURN"]);
    // refilled, not appended: the old server is gone, the new one is there, once
    expect(after.some((l) => l.includes("203.0.113.12"))).toBe(false);
    expect(after.filter((l) => l.includes("198.51.100.7/32") && l.endsWith("-j DROP"))).toHaveLength(1);
    expect(after.filter((l) => l.startsWith("-A BTW-ISOLATION "))).toHaveLength(9);
    // the dropped destinations as iptables reads them back
    expect(after).toContain("-A BTW-ISOLATION -s 10.220.0.0/16 -d 169.254.0.0/16 -j DROP");
    expect(after).toContain("-A BTW-ISOLATION -s 10.220.0.0/16 -d 10.0.0.0/16 -j DROP");
    expect(after).toContain("-A BTW-ISOLATION-INPUT -s 10.220.0.0/16 -j DROP");
  });

  // Packets, not rule text: a router namespace plays the host (Docker's DNAT of its published
  // ports 80 and 9180 to the proxy, the FORWARD → DOCKER-USER jump), with a tenant's container
  // and the proxy in two more namespaces, both addressed from the tenant pool as on a server
  // (the proxy sits on every tenant's edge network).
  it("a tenant reaches the host's published web ports through Docker's DNAT, never its metrics port; traffic inside the pool is left to Docker", () => {
    const dir = mkdtempSync(join(tmpdir(), "btw-isolation-traffic-"));
    dirs.push(dir);
    writeFileSync(join(dir, "rules.sh"), isolationScript(input));
    // says it listens (a file) once every port is bound: the probes wait on that, not on a sleep
    writeFileSync(
      join(dir, "listen.cjs"),
      'const net = require("net"); const ports = process.argv.slice(3); let n = 0; for (const p of ports) net.createServer((s) => s.end("ok")).listen(Number(p), () => { if (++n === ports.length) require("fs").writeFileSync(process.argv[2], "up"); }); setTimeout(() => process.exit(0), 30000);',
    );
    writeFileSync(
      join(dir, "probe.cjs"),
      'const [h, p] = process.argv.slice(2); const s = require("net").connect({ host: h, port: Number(p) }); const t = setTimeout(() => { console.log(`${h}:${p} blocked`); process.exit(0); }, 2000); ' +
        's.on("data", () => { clearTimeout(t); console.log(`${h}:${p} open`); process.exit(0); }); s.on("error", (e) => { clearTimeout(t); console.log(`${h}:${p} ${e.code}`); process.exit(0); });',
    );
    const script = [
      "set -e",
      "unshare -n sleep 60 & T=$!",
      "unshare -n sleep 60 & P=$!",
      // until both have their own network namespace (unshare done), under load too
      'for pid in $T $P; do i=0; while [ "$(readlink /proc/$pid/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ]; do i=$((i + 1)); [ $i -lt 500 ] || exit 9; sleep 0.02; done; done',
      "ip link set lo up",
      "ip link add vt type veth peer name vt-in netns $T",
      "ip link add vp type veth peer name vp-in netns $P",
      "ip addr add 10.220.1.1/24 dev vt; ip link set vt up",
      "ip addr add 10.220.2.1/24 dev vp; ip link set vp up",
      // the server's public address
      "ip addr add 203.0.113.1/32 dev lo",
      "echo 1 > /proc/sys/net/ipv4/ip_forward",
      "nsenter -t $T -n sh -c 'ip link set lo up; ip addr add 10.220.1.2/24 dev vt-in; ip link set vt-in up; ip route add default via 10.220.1.1'",
      "nsenter -t $P -n sh -c 'ip link set lo up; ip addr add 10.220.2.2/24 dev vp-in; ip link set vp-in up; ip route add default via 10.220.2.1'",
      // what Docker does for the proxy's published ports, and its DOCKER-USER hook
      "for port in 80 9180; do iptables -w -t nat -A PREROUTING -d 203.0.113.1/32 -p tcp --dport $port -j DNAT --to-destination 10.220.2.2:$port; done",
      "iptables -w -N DOCKER-USER; iptables -w -A FORWARD -j DOCKER-USER",
      `sh ${dir}/rules.sh >/dev/null`,
      `nsenter -t $P -n node ${dir}/listen.cjs ${dir}/up 80 9180 5432 & L=$!`,
      `i=0; until [ -f ${dir}/up ]; do i=$((i + 1)); [ $i -lt 1000 ] || exit 9; sleep 0.02; done`,
      `for target in 203.0.113.1:80 203.0.113.1:9180 10.220.2.2:5432; do nsenter -t $T -n node ${dir}/probe.cjs \${target%:*} \${target#*:}; done`,
      "kill $T $P $L",
    ].join("\n");
    const r = spawnSync("unshare", ["-n", "sh", "-c", script], { encoding: "utf8", timeout: 60_000 });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(r.stdout.trim().split("\n")).toEqual([
      // its own public URL, through the proxy
      "203.0.113.1:80 open",
      // the private metrics listener, DNAT-ed into the pool: dropped (it used to pass as pool → pool)
      "203.0.113.1:9180 blocked",
      // n8n → its Postgres: Docker's networks decide, not these rules
      "10.220.2.2:5432 open",
    ]);
    // a node per probe and the listener: ~2–4 s on a quiet machine, more beside the e2e lanes
  }, 60_000);
});
