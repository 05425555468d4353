import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROXY_ADOPT_NETWORK_SCRIPT, proxyAdoptNetwork } from "../../../src/core/commands/proxy.js";
import { PROXY_LAYOUT } from "../../../src/core/proxy/layout.js";
import { tenantLayout } from "../../../src/core/tenant/layout.js";

// Docker puts a container's published ports on its gateway network, chosen among non-internal
// networks of equal priority by name (libnetwork's endpoint heap). The proxy joins every tenant's
// edge network; its own network must sort first, or a tenant's create or delete moves the
// server's ports 80/443 and refuses every tenant meanwhile (measured on the lab: 147 refused
// requests over 10 joins/leaves of a network named btw-aaa-edge; 0 for btw-zzz-edge).

describe("the proxy's own network stays its gateway", () => {
  it("sorts (byte-wise, as Go compares) before the edge network of any valid tenant name", () => {
    const names = ["0aa", "000", "0-0", "a00", "aaa", "abc", "proxy", "p", "zzz", "vfy-0123abcd", "a".repeat(32), "9-z"].filter((n) => n.length >= 3);
    for (const n of names) {
      const edge = tenantLayout(n).networks.edge;
      expect(Buffer.compare(Buffer.from(PROXY_LAYOUT.network), Buffer.from(edge)), `${PROXY_LAYOUT.network} before ${edge}`).toBe(-1);
    }
    // the name of btw before it did not: a tenant called "bk-mv" sorted first (the CI failure of be22750)
    expect(Buffer.compare(Buffer.from(PROXY_LAYOUT.legacyNetwork), Buffer.from(tenantLayout("bk-mv").networks.edge))).toBe(1);
  });

  it("the compose template names the same network", () => {
    const doc = parse(readFileSync(new URL("../../../templates/proxy/compose.yml", import.meta.url), "utf8")) as { networks: { default: { name: string } } };
    expect(doc.networks.default.name).toBe(PROXY_LAYOUT.network);
  });
});

describe("proxyAdoptNetwork: an older btw's proxy moved to the new network, live", () => {
  // A stand-in `docker` (a shell script on PATH) keeps the container's networks in a file and
  // logs every call: the script under test is real sh, run as on a server.
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = "";
  });

  const run = async (state: { container: string[] | null; mode?: string; networks: string[] }) => {
    dir = mkdtempSync(join(tmpdir(), "btw-adopt-"));
    writeFileSync(join(dir, "attached"), state.container === null ? "" : state.container.join("\n") + "\n");
    writeFileSync(join(dir, "networks"), state.networks.join("\n") + "\n");
    if (state.container === null) writeFileSync(join(dir, "absent"), "");
    writeFileSync(join(dir, "mode"), state.mode ?? "");
    const fake = [
      "#!/bin/sh",
      `d=${dir}`,
      'echo "$*" >> "$d/log"',
      'case "$1 $2" in',
      '  "inspect --type") [ -e "$d/absent" ] && { echo "Error: No such container: btw-proxy" >&2; exit 1; }; printf "%s|" "$(cat "$d/mode")"; for n in $(cat "$d/attached"); do printf " %s" "$n"; done; echo ;;',
      '  "network connect") echo "$3" >> "$d/attached" ;;',
      '  "network disconnect") grep -vx "$3" "$d/attached" > "$d/a2"; mv "$d/a2" "$d/attached" ;;',
      '  "network inspect") grep -qx "$3" "$d/networks" || exit 1 ;;',
      '  "network rm") grep -qx "$3" "$d/attached" && exit 1; grep -vx "$3" "$d/networks" > "$d/n2"; mv "$d/n2" "$d/networks" ;;',
      '  "network create") echo "$5" >> "$d/networks" ;;',
      "  *) exit 9 ;;",
      "esac",
    ].join("\n");
    writeFileSync(join(dir, "docker"), fake + "\n");
    chmodSync(join(dir, "docker"), 0o755);
    const argv = proxyAdoptNetwork();
    const r = await execa(argv[0]!, argv.slice(1), { env: { PATH: `${dir}:${process.env.PATH}` }, reject: false });
    const read = (f: string) => {
      try {
        return readFileSync(join(dir, f), "utf8").trim().split("\n").filter(Boolean);
      } catch {
        return [];
      }
    };
    return { code: r.exitCode, stderr: r.stderr, log: read("log"), attached: read("attached"), networks: read("networks") };
  };

  it("is plain argv: sh -c, the script, then the container and both networks as arguments", () => {
    expect(proxyAdoptNetwork()).toEqual(["sh", "-c", PROXY_ADOPT_NETWORK_SCRIPT, "sh", "btw-proxy", "btw--proxy", "btw-proxy"]);
  });

  it("an older btw's proxy: joins the new network first, then leaves the old, which stays (Docker needs its network mode's network); tenant networks stay", async () => {
    const r = await run({ container: ["btw-proxy", "btw-acme-edge"], mode: "btw-proxy", networks: ["btw-proxy", "btw--proxy", "btw-acme-edge"] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.log.filter((l) => !l.startsWith("inspect"))).toEqual(["network connect btw--proxy btw-proxy", "network disconnect btw-proxy btw-proxy", "network inspect btw-proxy"]);
    expect(r.attached.sort()).toEqual(["btw--proxy", "btw-acme-edge"]);
    expect(r.networks.sort()).toEqual(["btw--proxy", "btw-acme-edge", "btw-proxy"]);
  });

  it("makes the old network again while the container's network mode names it (else its next connect or start fails)", async () => {
    const r = await run({ container: ["btw--proxy", "btw-acme-edge"], mode: "btw-proxy", networks: ["btw--proxy", "btw-acme-edge"] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.log.filter((l) => !l.startsWith("inspect"))).toEqual(["network inspect btw-proxy", "network create --label btw.role=proxy btw-proxy"]);
    expect(r.networks).toContain("btw-proxy");
  });

  it("removes the old network once the proxy was recreated on the new one; a second run does nothing", async () => {
    const r = await run({ container: ["btw--proxy", "btw-acme-edge"], mode: "btw--proxy", networks: ["btw-proxy", "btw--proxy", "btw-acme-edge"] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.log.filter((l) => !l.startsWith("inspect"))).toEqual(["network inspect btw-proxy", "network rm btw-proxy"]);
    expect(r.networks.sort()).toEqual(["btw--proxy", "btw-acme-edge"]);
    const again = await run({ container: ["btw--proxy", "btw-acme-edge"], mode: "btw--proxy", networks: ["btw--proxy", "btw-acme-edge"] });
    expect(again.code, again.stderr).toBe(0);
    expect(again.log.filter((l) => !l.startsWith("inspect") && !l.startsWith("network inspect"))).toEqual([]);
  });

  it("succeeds with nothing to do when the server has no proxy container", async () => {
    const r = await run({ container: null, networks: [] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.log.filter((l) => l.startsWith("network"))).toEqual([]);
  });
});
