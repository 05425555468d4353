import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { tempHome, type BtwHome } from "../../support/cli.js";
import { OFFLINE } from "../infra/support.js";

interface EdgeRow {
  proxy: string;
  reachable: boolean;
  health: string;
  healthy: boolean | null;
  drift: string;
  detail: string | null;
  ok: boolean;
}

// `btw status` behind the edge, against a real sshd on loopback: one edge proxy btw reaches
// (this machine: no btw-proxy, no edge Caddyfile) and one nobody answers for. Both are rows;
// neither stops the command, which reports the fleet degraded (exit 3).
describe("status with proxy.mode edge", () => {
  let sshd: TestSshd;
  let home: BtwHome;
  let directYml: string;
  let noProxiesYml: string;

  beforeAll(async () => {
    sshd = await startSshd();
    home = tempHome();
    const init = await home.run(["init", "--domain", "example.com"]);
    expect(init.code, init.stderr).toBe(0);
    directYml = join(home.dir, "btw.direct.yml");
    copyFileSync(join(home.dir, "btw.yml"), directYml);
    const yml = join(home.dir, "btw.yml");
    const config = parse(readFileSync(yml, "utf8")) as Record<string, Record<string, unknown> | undefined>;
    noProxiesYml = join(home.dir, "btw.no-proxies.yml");
    writeFileSync(noProxiesYml, stringify({ ...config, proxy: { ...config.proxy, mode: "edge" } }));
    writeFileSync(
      yml,
      stringify({
        ...config,
        proxy: { ...config.proxy, mode: "edge" },
        ssh: { ...config.ssh, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey },
        edge: {
          ...config.edge,
          proxies: [
            { name: "edge-a", host: "127.0.0.1" },
            // sshd listens on 127.0.0.1 only: refused at once
            { name: "edge-b", host: "127.0.0.2" },
          ],
        },
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await sshd?.stop();
    home?.cleanup();
  });

  it("direct mode: no edge in the output", async () => {
    const r = await home.run(["--config", directYml, "status", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).not.toHaveProperty("edge");
  });

  it("edge mode: a row per edge proxy, the unreachable one included; degraded (exit 3)", async () => {
    const r = await home.run(["status", "--json"]);
    expect(r.code, r.stderr).toBe(3);
    const out = JSON.parse(r.stdout) as { healthy: boolean; edge: EdgeRow[]; edgeUnroutable: string[] };
    expect(out.healthy).toBe(false);
    expect(out.edgeUnroutable).toEqual([]);
    const [a, b] = out.edge;
    expect(out.edge.map((e) => e.proxy)).toEqual(["edge-a", "edge-b"]);
    // reached over SSH; no btw-proxy answers here and no edge Caddyfile is installed
    expect(a).toMatchObject({ reachable: true, healthy: false, drift: "missing", ok: false });
    expect(a!.detail).toMatch(/no Caddyfile installed: `btw edge sync`/);
    expect(b).toMatchObject({ reachable: false, health: "UNREACHABLE", healthy: null, drift: "unknown", ok: false });
    expect(b!.detail).toMatch(/edge-b/);
  });

  it("edge mode with no edge proxy to list (no infra here): one row saying why, the rest of the status intact", async () => {
    const r = await home.run(["--config", noProxiesYml, "status", "--json"], { env: OFFLINE });
    expect(r.code, r.stderr).toBe(3);
    const out = JSON.parse(r.stdout) as { servers: unknown[]; edge: EdgeRow[] };
    expect(out.servers).toEqual([]);
    expect(out.edge).toHaveLength(1);
    expect(out.edge[0]).toMatchObject({ proxy: "(none)", reachable: false, ok: false });
    expect(out.edge[0]!.detail).toMatch(/^cannot list the edge proxies: /);
  });

  it("the text output shows the edge table", async () => {
    const r = await home.run(["status"]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^EDGE PROXY\s+HEALTH\s+ROUTES\s+DETAIL$/m);
    expect(r.stdout).toMatch(/^edge-a\s+\S.*\s+missing\s+.*no Caddyfile installed/m);
    expect(r.stdout).toMatch(/^edge-b\s+UNREACHABLE\s+unknown\s+/m);
  });
});
