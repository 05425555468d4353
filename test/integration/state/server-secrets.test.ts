// A server's metrics token (issue 22 item 4): the credential its proxy's private metrics
// listener asks for and Prometheus presents. Made once, sealed like tenant secrets (the row
// holds no plaintext, opens only under its server's id), the same value for every reader —
// two processes making it at once agree — and gone with its server.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricsToken } from "../../../src/ops/server/secrets.js";
import { open } from "../../../src/secrets/envelope.js";
import type { MasterKey } from "../../../src/secrets/master-key.js";
import type { Db } from "../../../src/state/db.js";
import { keyIdsInUse } from "../../../src/state/master-keys.js";
import { migrate } from "../../../src/state/migrate.js";
import { insertServer, removeServer } from "../../../src/state/servers.js";
import { driverFixture, type DriverFixture } from "./drivers.js";

const master: MasterKey = { id: "0123456789ab", key: randomBytes(32), source: "file" };

describe("server secrets: the metrics token", () => {
  let fx: DriverFixture;
  let db: Db;
  let other: Db;

  beforeAll(async () => {
    fx = await driverFixture("pg");
    db = await fx.open();
    await migrate(db);
    other = await fx.open();
  });
  afterAll(async () => {
    await other?.close();
    await db?.close();
    await fx?.dispose();
  });

  it("is made on first use only, 32 random bytes in hex, then the same for every reader", async () => {
    const s = await insertServer(db, { name: "fsn1-1", host: "203.0.113.1", capacity: 20 });
    expect(await metricsToken(db, master, s.id, { create: false })).toBeNull();
    const token = await metricsToken(db, master, s.id, { create: true });
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(await metricsToken(other, master, s.id, { create: true })).toBe(token);
    expect(await metricsToken(db, master, s.id, { create: false })).toBe(token);
  });

  it("two processes making it at once agree on one value", async () => {
    const s = await insertServer(db, { name: "fsn1-2", host: "203.0.113.2", capacity: 20 });
    const [a, b] = await Promise.all([metricsToken(db, master, s.id, { create: true }), metricsToken(other, master, s.id, { create: true })]);
    expect(a).toBe(b);
  });

  it("is stored sealed under the master key's id, bound to its server, and counted among the keys the state depends on", async () => {
    const s = await insertServer(db, { name: "fsn1-3", host: "203.0.113.3", capacity: 20 });
    const token = (await metricsToken(db, master, s.id, { create: true }))!;
    const rows = (await db.query<{ keyId: string; ciphertext: Buffer }>(`select key_id as "keyId", ciphertext from server_secrets where server_id = $1`, [s.id])).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.keyId).toBe(master.id);
    expect(rows[0]!.ciphertext.toString("utf8")).not.toContain(token);
    // the envelope names its server: another server's context does not open it
    expect(() => open(master, `server:${s.id + 1000}/METRICS_TOKEN`, rows[0]!.ciphertext.toString("utf8"))).toThrow();
    expect(await keyIdsInUse(db)).toContain(master.id);
  });

  it("goes with its server", async () => {
    const s = await insertServer(db, { name: "fsn1-4", host: "203.0.113.4", capacity: 20 });
    await metricsToken(db, master, s.id, { create: true });
    expect(await removeServer(db, s.id)).toBe(true);
    expect((await db.query(`select 1 from server_secrets where server_id = $1`, [s.id])).rows).toEqual([]);
  });
});
