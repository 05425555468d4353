import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, describe, expect, it } from "vitest";
import {
  ageDecryptStream,
  ageEncryptStream,
  bech32Decode,
  formatIdentity,
  generateIdentity,
  identityFromMasterKey,
  parseIdentity,
  type AgeIdentity,
} from "../../../src/core/backup/age.js";
import type { PartSink } from "../../../src/core/backup/bundle.js";
import { detectContainer } from "../../../src/core/backup/container.js";
import { encryptStream } from "../../../src/core/backup/crypto-stream.js";
import { BACKUP_FORMAT, type BackupManifest, type BackupStart } from "../../../src/core/backup/manifest.js";
import { readTarBundle, secretsEnv, writeTarBundle } from "../../../src/core/backup/tar-bundle.js";
import { writeBundle } from "../../../src/core/backup/bundle.js";
import { dataKeyContext } from "../../../src/core/backup/manifest.js";
import { writeBackupObject } from "../../../src/ops/backup/object.js";
import { readBackupObject } from "../../../src/ops/backup/restore-data.js";
import type { BackupStorage } from "../../../src/remote/backup-storage.js";
import { seal } from "../../../src/secrets/envelope.js";
import { keyId, type MasterKey } from "../../../src/secrets/master-key.js";
import { backupIdentities, backupRecipients, ensureRecoveryIdentity, loadRecoveryIdentity, loadRetiredRecoveryIdentities, rotateRecoveryIdentity } from "../../../src/secrets/recovery-identity.js";

const mk = (ring?: Map<string, Buffer>): MasterKey => {
  const key = randomBytes(32);
  return { id: keyId(key), key, source: "file", ...(ring ? { ring } : {}) };
};

function chunksOf(b: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
}

const encrypt = (recipients: string[], plain: Buffer) => buffer(Readable.from(chunksOf(plain, 7777), { objectMode: false }).pipe(ageEncryptStream(recipients)));
const decrypt = (identities: AgeIdentity[], data: Buffer, piece = 1000) => buffer(Readable.from(chunksOf(data, piece)).pipe(ageDecryptStream({ identities })));

const homes: string[] = [];
const home = () => {
  const h = mkdtempSync(join(tmpdir(), "btw-age-"));
  homes.push(h);
  return h;
};
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

describe("backup container detection", () => {
  it("tells an age file, a btwb file and anything else apart by the first bytes", async () => {
    const m = mk();
    const age = await encrypt([identityFromMasterKey(m.key).recipient], Buffer.from("x"));
    const btwb = await buffer(Readable.from([Buffer.from("x")]).pipe(encryptStream({ backupId: "b", tenant: "t", keyId: m.id, wrapKey: (k) => seal(m, "c", k) })));
    expect(detectContainer(age)).toBe("age");
    expect(detectContainer(btwb)).toBe("btwb");
    expect(detectContainer(Buffer.from("PGDMP\x01\x0f"))).toBeNull();
    expect(detectContainer(Buffer.from("age-encryption.org/v2\n"))).toBeNull();
    expect(detectContainer(age.subarray(0, 10))).toBeNull();
  });
});

describe("age with two recipients", () => {
  it("each of the two identities opens it alone; a third does not", async () => {
    const master = identityFromMasterKey(randomBytes(32));
    const recovery = generateIdentity();
    for (const size of [0, 1, 65_536, 65_537, 200_000]) {
      const plain = randomBytes(size);
      const enc = await encrypt([master.recipient, recovery.recipient], plain);
      expect((await decrypt([master], enc)).equals(plain), `master, ${size}`).toBe(true);
      expect((await decrypt([recovery], enc, 1 + (size % 4000))).equals(plain), `recovery, ${size}`).toBe(true);
      await expect(decrypt([generateIdentity()], enc)).rejects.toThrow(/no identity/);
    }
  });

  it("refuses a damaged chunk, a truncated file, an edited header and bytes appended", async () => {
    const id = generateIdentity();
    const enc = await encrypt([id.recipient], randomBytes(150_000));
    const flipped = Buffer.from(enc);
    flipped[flipped.length - 70_000]! ^= 1;
    await expect(decrypt([id], flipped)).rejects.toThrow(/authentication/);
    await expect(decrypt([id], enc.subarray(0, enc.length - 100))).rejects.toThrow(/authentication/);
    // a whole chunk dropped at the end: the one before is not flagged last
    await expect(decrypt([id], enc.subarray(0, enc.length - (150_000 - 2 * 65_536) - 16))).rejects.toThrow(/authentication/);
    const header = Buffer.from(enc);
    header[40]! ^= 1; // inside the X25519 stanza's share
    await expect(decrypt([id], header)).rejects.toThrow(/no identity/);
    await expect(decrypt([id], Buffer.concat([enc, Buffer.alloc(40)]))).rejects.toThrow(/authentication/);
  });

  it("writes identities in age-keygen's spelling and reads them back", () => {
    const id = generateIdentity();
    const text = formatIdentity(id);
    expect(text).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(id.recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(parseIdentity(`# comment\n${text}\n`)?.recipient).toBe(id.recipient);
    expect(bech32Decode(id.recipient.slice(0, -1) + (id.recipient.endsWith("q") ? "p" : "q"))).toBeNull();
  });

  it("a master key's identity is derived from it: the same key gives the same recipient, another key another", () => {
    const k = randomBytes(32);
    expect(identityFromMasterKey(k).recipient).toBe(identityFromMasterKey(Buffer.from(k)).recipient);
    expect(identityFromMasterKey(randomBytes(32)).recipient).not.toBe(identityFromMasterKey(k).recipient);
  });
});

describe("recipients and identities of the master key and the keyring", () => {
  it("a backup written before a rotation opens with the keyring's old key; its recovery identity is kept in the keyring", async () => {
    const h = home();
    const before = mk();
    const { recipients, createdRecovery } = backupRecipients(before, h, {});
    expect(createdRecovery).toBe(true);
    expect(recipients).toHaveLength(2);
    const oldRecovery = loadRecoveryIdentity(h)!;
    expect(recipients[1]).toBe(oldRecovery.recipient);
    const plain = randomBytes(10_000);
    const enc = await encrypt(recipients, plain);

    // rotation: a new master key, the old one in the ring; a new recovery identity
    const after = mk(new Map([[before.id, before.key]]));
    const newRecipient = rotateRecoveryIdentity(h);
    expect(newRecipient).not.toBe(oldRecovery.recipient);
    expect(loadRetiredRecoveryIdentities(h).map((i) => i.recipient)).toEqual([oldRecovery.recipient]);
    expect(backupRecipients(after, h, {}).recipients).toEqual([identityFromMasterKey(after.key).recipient, newRecipient]);

    expect((await decrypt(backupIdentities(after), enc)).equals(plain)).toBe(true);
    await expect(decrypt(backupIdentities(mk()), enc)).rejects.toThrow();
    expect((await decrypt(loadRetiredRecoveryIdentities(h), enc)).equals(plain)).toBe(true);
  });

  it("BTW_RECOVERY_RECIPIENT stands in for the identity file; an invalid one is refused", () => {
    const h = home();
    const r = generateIdentity().recipient;
    expect(backupRecipients(mk(), h, { BTW_RECOVERY_RECIPIENT: r }).recipients[1]).toBe(r);
    expect(loadRecoveryIdentity(h)).toBeNull();
    expect(() => backupRecipients(mk(), h, { BTW_RECOVERY_RECIPIENT: "age1nope" })).toThrow(/BTW_RECOVERY_RECIPIENT/);
    expect(ensureRecoveryIdentity(h).created).toBe(true);
    expect(ensureRecoveryIdentity(h).created).toBe(false);
  });
});

// ---------- the tar inside ----------

const start: BackupStart = {
  format: BACKUP_FORMAT,
  id: "acme-20260101T020000Z-abcd",
  tenant: "acme",
  createdAt: "2026-01-01T02:00:00.000Z",
  server: "s1",
  plan: "pro",
  timezone: "UTC",
  n8nVersion: "2.8.4",
  images: { n8n: "n8n:2.8.4", postgres: "pg:17", redis: "redis:7" },
};
const manifestOf = (parts: BackupManifest["parts"]): BackupManifest => ({
  ...start,
  finishedAt: "2026-01-01T02:01:00.000Z",
  parts,
  counts: { workflows: 3, credentials: 1, executions: 10 },
  escrow: { keyId: "k", sealed: "v1.x", names: ["N8N_ENCRYPTION_KEY"] },
});

function collector(): PartSink & { data: () => Buffer } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((r) => stream.on("end", () => r()));
  return { stream, done: () => ended, data: () => Buffer.concat(chunks) };
}

const tarOf = (parts: Record<string, Buffer>, piece: number, manifest = manifestOf) =>
  buffer(
    Readable.from(
      writeTarBundle(
        start,
        secretsEnv(new Map([["N8N_ENCRYPTION_KEY", "k"]])),
        Object.entries(parts).map(([name, data]) => ({ name, open: async () => Readable.from(chunksOf(data, 333)) })),
        manifest,
        piece,
      ),
    ),
  );

describe("tar bundle", () => {
  it("cuts parts into pieces and gives them back whole, with the manifest", async () => {
    const db = randomBytes(10_000);
    const files = randomBytes(4096);
    const bytes = await tarOf({ "postgres.dump": db, "n8n-data.tar": files, "empty.bin": Buffer.alloc(0) }, 3000);
    expect(bytes.length % 512).toBe(0);
    const sinks: Record<string, ReturnType<typeof collector>> = {};
    const m = await readTarBundle(Readable.from(chunksOf(bytes, 1001)), { onPart: (n) => (sinks[n] = collector()) });
    expect(sinks["postgres.dump"]!.data().equals(db)).toBe(true);
    expect(sinks["n8n-data.tar"]!.data().equals(files)).toBe(true);
    expect(sinks["empty.bin"]!.data().length).toBe(0);
    expect(m.parts.map((p) => [p.name, p.size])).toEqual([
      ["postgres.dump", 10_000],
      ["n8n-data.tar", 4096],
      ["empty.bin", 0],
    ]);
  });

  it("refuses a part whose bytes do not match the manifest, and a tar cut short", async () => {
    const lying = await tarOf({ a: randomBytes(5000) }, 2048, (parts) => manifestOf(parts.map((p) => ({ ...p, sha256: "0".repeat(64) }))));
    await expect(readTarBundle(Readable.from([lying]), { onPart: () => null })).rejects.toThrow(/manifest's parts/);
    const good = await tarOf({ a: randomBytes(5000) }, 2048);
    await expect(readTarBundle(Readable.from([good.subarray(0, good.length - 2048)]), { onPart: () => null })).rejects.toThrow(/inconsistent/);
    const flipped = Buffer.from(good);
    flipped[good.indexOf("a/000001") + 2]! ^= 1; // a piece's header: its name
    await expect(readTarBundle(Readable.from([flipped]), { onPart: () => null })).rejects.toThrow(/checksum|inconsistent/);
  });
});

/** Objects in memory, handed out in small chunks (as a download would). */
function memoryStorage(): BackupStorage & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  return {
    objects,
    kind: "dir",
    root: "mem:",
    location: (k) => `mem:${k}`,
    keyOf: (l) => l.slice(4),
    put: async (k, body) => void objects.set(k, await buffer(body)),
    get: async (k) => Readable.from(chunksOf(objects.get(k)!, 5)),
    delete: async (k) => void objects.delete(k),
    removePartial: async () => {},
    list: async () => [...objects.keys()],
    listPartials: async () => [],
    close: async () => {},
  };
}

describe("reading a stored backup object, whatever its container", () => {
  it("reads an age object and an older btwb object alike, by their first bytes; refuses anything else", async () => {
    const h = home();
    const m = mk();
    const storage = memoryStorage();
    const parts = (data: Buffer) => [{ name: "postgres.dump", open: async () => Readable.from(chunksOf(data, 1000)) }];
    const dumpA = randomBytes(20_000);
    const dumpB = randomBytes(30_000);
    const sA = { ...start, id: "acme-20260101T020000Z-aaaa" };
    const sB = { ...start, id: "acme-20260101T020000Z-bbbb" };
    await writeBackupObject({ storage, key: "acme/a.btwb", start: sA, secrets: new Map(), parts: parts(dumpA), finish: (p) => ({ ...manifestOf(p), id: sA.id }), recipients: backupRecipients(m, h, {}).recipients });
    await storage.put("acme/b.btwb", Readable.from(writeBundle(sB, parts(dumpB), (p) => ({ ...manifestOf(p), id: sB.id }))).pipe(encryptStream({ backupId: sB.id, tenant: "acme", keyId: m.id, wrapKey: (k) => seal(m, dataKeyContext(sB.id), k) })));
    expect(detectContainer(storage.objects.get("acme/a.btwb")!)).toBe("age");
    expect(detectContainer(storage.objects.get("acme/b.btwb")!)).toBe("btwb");
    for (const [key, s, data] of [["acme/a.btwb", sA, dumpA], ["acme/b.btwb", sB, dumpB]] as const) {
      const sink = collector();
      const got = await readBackupObject(storage, key, m, s.id, (name) => (name === "postgres.dump" ? sink : null));
      expect(got.id).toBe(s.id);
      expect(sink.data().equals(data), key).toBe(true);
    }
    // an object holding another backup than the row says is refused, in either container
    await expect(readBackupObject(storage, "acme/a.btwb", m, sB.id, () => null)).rejects.toThrow(/holds backup/);
    await expect(readBackupObject(storage, "acme/b.btwb", m, sA.id, () => null)).rejects.toThrow(/holds backup/);
    storage.objects.set("acme/c.btwb", Buffer.from("PGDMP plain dump, not encrypted"));
    await expect(readBackupObject(storage, "acme/c.btwb", m, "x", () => null)).rejects.toThrow(/neither an age file nor a btw backup/);
  });
});

