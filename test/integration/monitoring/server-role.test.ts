// `server add --role monitoring`: the role infra apply records, for a server added by hand —
// `monitoring deploy`/`sync` find it without --server, and commands that change the fleet try
// to refresh it (a warning naming `monitoring sync` when it cannot be reached, never a failure).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateSql, tempHome, type BtwHome } from "../../support/cli.js";

let home: BtwHome;
beforeAll(async () => {
  home = tempHome();
  const fragment = join(home.dir, "fragment.yml");
  writeFileSync(fragment, "ssh: { connectTimeoutSec: 2 }\n");
  const init = await home.run(["init", "--domain", "example.com", "--tls", "off", "--merge", fragment]);
  expect(init.code, init.stderr).toBe(0);
}, 120_000);
afterAll(() => home?.cleanup());

describe("server add --role", () => {
  it("records the monitoring role; monitoring sync then finds the server without --server", async () => {
    // nothing answers on these ports: registered without connecting
    const mon = await home.run(["server", "add", "mon", "--host", "127.0.0.1", "--port", "1", "--no-verify", "--role", "monitoring"]);
    expect(mon.code, mon.stderr).toBe(0);
    const plain = await home.run(["server", "add", "s1", "--host", "127.0.0.1", "--port", "2", "--no-verify"]);
    expect(plain.code, plain.stderr).toBe(0);
    // s1's add tried to refresh the monitoring server's targets: a warning, not a failure
    expect(plain.stderr).toContain("btw monitoring sync");
    const rows = (await stateSql(home, "select name, labels from servers order by name")) as { name: string; labels: Record<string, string> }[];
    expect(rows).toEqual([{ name: "mon", labels: { "btw-role": "monitoring" } }, { name: "s1", labels: {} }]);
    const sync = await home.run(["monitoring", "sync", "--dry-run", "--json"]);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toContain('"mon"');
  }, 120_000);

  it("refuses a role it does not know (usage error, nothing registered)", async () => {
    const r = await home.run(["server", "add", "x", "--host", "127.0.0.1", "--port", "3", "--no-verify", "--role", "edge"]);
    expect(r.code).toBe(2);
    expect(((await stateSql(home, "select count(*)::int as n from servers where name = 'x'")) as { n: number }[])[0]!.n).toBe(0);
  }, 60_000);
});
