import { describe, expect, it } from "vitest";
import {
  parseStackContainers,
  parseStackDir,
  STACK_DIR_SCRIPT,
  stackContainers,
  stackDir,
  tenantNetworksIn,
  tenantVolumesIn,
  volumeNames,
} from "../../../src/core/commands/stack-ownership.js";
import { decideOwnership, type StackFound } from "../../../src/core/tenant/ownership.js";

const OURS = "11111111-1111-4111-8111-111111111111";
const THEIRS = "22222222-2222-4222-8222-222222222222";

const empty = (): StackFound => ({ containers: [], volumes: [], networks: [], dir: { path: "/opt/btw/tenants/shop", exists: false, state: "" } });
const full = (state: string): StackFound => ({
  containers: [
    { name: "btw-shop-n8n", state },
    { name: "btw-shop-postgres", state },
  ],
  volumes: ["btw-shop-pgdata"],
  networks: ["btw-shop-edge"],
  dir: { path: "/opt/btw/tenants/shop", exists: true, state },
});

describe("stack ownership: commands", () => {
  it("lists the project's containers with their state label, volumes, and the directory by a constant script", () => {
    expect(stackContainers("shop")).toEqual(["docker", "ps", "-a", "--filter", "label=com.docker.compose.project=btw-shop", "--format", '{{.Names}}|{{.Label "btw.state"}}']);
    expect(volumeNames()).toEqual(["docker", "volume", "ls", "--format", "{{.Name}}"]);
    expect(stackDir("shop")).toEqual(["sh", "-c", STACK_DIR_SCRIPT, "sh", "/opt/btw/tenants/shop"]);
    expect(() => stackDir("../etc")).toThrow();
  });

  it("parses what the server answered", () => {
    expect(parseStackContainers(`btw-shop-postgres|${OURS}\nbtw-shop-n8n|\n`)).toEqual([
      { name: "btw-shop-n8n", state: "" },
      { name: "btw-shop-postgres", state: OURS },
    ]);
    expect(parseStackDir("")).toEqual({ exists: false, state: "" });
    expect(parseStackDir(`dir\n${THEIRS}\n`)).toEqual({ exists: true, state: THEIRS });
    expect(parseStackDir("dir\n")).toEqual({ exists: true, state: "" });
    // exact layout names only: shop-2's volumes are not shop's
    expect(tenantVolumesIn("shop", ["btw-shop-2-pgdata", "btw-shop-pgdata", "btw-shop-n8ndata", "other"])).toEqual(["btw-shop-n8ndata", "btw-shop-pgdata"]);
    expect(tenantNetworksIn("shop", ["btw-shop-2-edge", "btw-shop-edge", "bridge"])).toEqual(["btw-shop-edge"]);
  });
});

describe("stack ownership: decision", () => {
  it("nothing on the server: ours to create", () => {
    expect(decideOwnership({ slug: "shop", server: "lab-1", stateId: OURS, recorded: false, found: empty() })).toEqual({ ok: true });
  });

  it("another state's labelled stack is refused, even when this state records the name", () => {
    for (const recorded of [false, true]) {
      const d = decideOwnership({ slug: "shop", server: "lab-1", stateId: OURS, recorded, found: full(THEIRS) });
      expect(d).toMatchObject({ ok: false, reason: "foreign-state" });
      if (!d.ok) {
        expect(d.message).toBe(
          `server lab-1 already has a stack 'shop' owned by another btw state (${THEIRS}): containers btw-shop-n8n, btw-shop-postgres; volume btw-shop-pgdata; network btw-shop-edge; directory /opt/btw/tenants/shop`,
        );
        expect(d.message).not.toContain("\n");
      }
    }
  });

  it("an unlabelled leftover this state does not record is refused, with how to remove it", () => {
    const found = { ...empty(), volumes: ["btw-shop-pgdata"] };
    const d = decideOwnership({ slug: "shop", server: "lab-1", stateId: OURS, recorded: false, found });
    expect(d).toMatchObject({ ok: false, reason: "unrecorded", message: "server lab-1 already has a stack 'shop' that this btw state does not record: volume btw-shop-pgdata" });
    if (!d.ok) expect(d.hint).toContain("docker compose -p btw-shop down --volumes; rm -rf /opt/btw/tenants/shop");
  });

  it("our own stack (a resumed create): labelled by us or unlabelled, when the state records it", () => {
    expect(decideOwnership({ slug: "shop", server: "lab-1", stateId: OURS, recorded: true, found: full(OURS) })).toEqual({ ok: true });
    expect(decideOwnership({ slug: "shop", server: "lab-1", stateId: OURS, recorded: true, found: full("") })).toEqual({ ok: true });
    // labelled by us but not recorded (the row is gone): still not adopted
    expect(decideOwnership({ slug: "shop", server: "lab-1", stateId: OURS, recorded: false, found: full(OURS) })).toMatchObject({ ok: false, reason: "unrecorded" });
  });
});
