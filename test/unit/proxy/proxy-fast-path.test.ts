import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { PROXY_STATE_SCRIPT, parseProxyState, proxyAppliedMarker, proxyState, proxyUpToDate } from "../../../src/core/commands/proxy.js";
import { PROXY_LAYOUT } from "../../../src/core/proxy/layout.js";

// ensureProxy's fast path (issue 21): a create, restore or migrate on a server whose proxy
// already runs from the files btw would write skips both `docker compose` runs. The one
// round trip is real sh here, with a stand-in `docker` on PATH answering the inspect.

const sha = (t: string) => createHash("sha256").update(t).digest("hex");
const COMPOSE = "services:\n  caddy:\n    image: ${CADDY_IMAGE}\n";
const ENV = "CADDY_IMAGE=caddy:2\nCADDY_CPUS=1\n";
const want = { compose: sha(COMPOSE), env: sha(ENV) };

describe("the proxy's state in one round trip", () => {
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = "";
  });

  const probe = async (files: { compose?: string; env?: string; applied?: string }, container: string | null) => {
    dir = mkdtempSync(join(tmpdir(), "btw-proxy-state-"));
    const proxyDir = join(dir, "proxy");
    mkdirSync(proxyDir);
    if (files.compose !== undefined) writeFileSync(join(proxyDir, "compose.yml"), files.compose);
    if (files.env !== undefined) writeFileSync(join(proxyDir, ".env"), files.env);
    if (files.applied !== undefined) writeFileSync(join(proxyDir, ".applied"), files.applied);
    mkdirSync(join(dir, "bin"));
    const docker = join(dir, "bin", "docker");
    writeFileSync(
      docker,
      container === null
        ? '#!/bin/sh\necho "Error: No such container: btw-proxy" >&2\nexit 1\n'
        : `#!/bin/sh\n[ "$1 $2 $3 $4" = "inspect --type container --format" ] || exit 9\n[ "$6" = btw-proxy ] || exit 8\necho '${container}'\n`,
    );
    chmodSync(docker, 0o755);
    const argv = proxyState();
    expect(argv.slice(0, 2)).toEqual(["sh", "-c"]);
    const r = await execa("sh", ["-c", PROXY_STATE_SCRIPT, "sh", proxyDir, PROXY_LAYOUT.container], { env: { PATH: `${join(dir, "bin")}:${process.env.PATH}` } });
    return parseProxyState(r.stdout);
  };

  it("up to date: marker and both files match, the container runs healthy on the proxy's network", async () => {
    const s = await probe({ compose: COMPOSE, env: ENV, applied: `${proxyAppliedMarker(want)}\n` }, `container true healthy ${PROXY_LAYOUT.network}`);
    expect(s.sums.get("compose.yml")).toBe(want.compose);
    expect(s.sums.get(".env")).toBe(want.env);
    expect(s.container).toEqual({ running: true, health: "healthy", networkMode: PROXY_LAYOUT.network });
    expect(proxyUpToDate(s, want)).toBe(true);
  });

  it("not up to date when anything differs", async () => {
    const ok = { compose: COMPOSE, env: ENV, applied: proxyAppliedMarker(want) };
    const running = `container true healthy ${PROXY_LAYOUT.network}`;
    // a new image in .env (the files btw would write now differ from the ones on disk)
    expect(proxyUpToDate(await probe(ok, running), { ...want, env: sha("CADDY_IMAGE=caddy:3\n") })).toBe(false);
    // files written by a run killed before `compose up` finished: the marker is the old one
    expect(proxyUpToDate(await probe({ ...ok, applied: proxyAppliedMarker({ compose: want.compose, env: sha("old") }) }, running), want)).toBe(false);
    // no marker (a server cloud-init set up, or an older btw)
    expect(proxyUpToDate(await probe({ compose: COMPOSE, env: ENV }, running), want)).toBe(false);
    // a file edited by hand since
    expect(proxyUpToDate(await probe({ ...ok, env: ENV + "CADDY_PIDS=9\n" }, running), want)).toBe(false);
    expect(proxyUpToDate(await probe({ ...ok, compose: undefined }, running), want)).toBe(false);
    // the container: absent, stopped, unhealthy or still starting, or on the legacy network
    expect(proxyUpToDate(await probe(ok, null), want)).toBe(false);
    expect(proxyUpToDate(await probe(ok, `container false healthy ${PROXY_LAYOUT.network}`), want)).toBe(false);
    expect(proxyUpToDate(await probe(ok, `container true unhealthy ${PROXY_LAYOUT.network}`), want)).toBe(false);
    expect(proxyUpToDate(await probe(ok, `container true starting ${PROXY_LAYOUT.network}`), want)).toBe(false);
    expect(proxyUpToDate(await probe(ok, `container true none ${PROXY_LAYOUT.network}`), want)).toBe(false);
    expect(proxyUpToDate(await probe(ok, `container true healthy ${PROXY_LAYOUT.legacyNetwork}`), want)).toBe(false);
  });

  it("a server with no proxy directory says nothing, and that is not up to date", async () => {
    const r = await execa("sh", ["-c", PROXY_STATE_SCRIPT, "sh", "/nonexistent/btw-proxy", PROXY_LAYOUT.container]);
    expect(r.stdout).toBe("");
    expect(proxyUpToDate(parseProxyState(r.stdout), want)).toBe(false);
  });
});
