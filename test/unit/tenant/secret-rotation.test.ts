import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { alterRolePasswordSql, dockerPsqlStdin, scramVerifier } from "../../../src/core/tenant/scram.js";
import {
  NEEDS_N8N,
  ROTATION_ORDERS,
  ageDays,
  isBtwKeyLabel,
  keysToRevoke,
  resumeRotation,
  rotationDue,
  rotationKeyLabel,
  type RotationJournal,
  type RotationStep,
} from "../../../src/core/tenant/secret-rotation.js";

describe("SCRAM-SHA-256 verifier", () => {
  // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations;
  // the server's signature over the exchange proves the ServerKey the verifier holds.
  it("holds the keys of RFC 7677's example exchange", () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const v = scramVerifier("pencil", salt);
    const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(v)!;
    expect(m[1]).toBe("W22ZaJ0SNY7soEsUEjb6gQ==");
    const authMessage =
      "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const serverSignature = createHmac("sha256", Buffer.from(m[3]!, "base64")).update(authMessage).digest("base64");
    expect(serverSignature).toBe("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });

  it("puts only the verifier into the SQL, never the password; psql reads it from stdin", () => {
    const sql = alterRolePasswordSql(scramVerifier("s3cret-password", Buffer.alloc(16, 1)));
    expect(sql).toMatch(/^ALTER ROLE n8n PASSWORD 'SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+';\n$/);
    expect(sql).not.toContain("s3cret-password");
    expect(() => alterRolePasswordSql("plain'; drop table x; --")).toThrow();
    expect(dockerPsqlStdin("btw-acme-postgres", "n8n")).toEqual([
      "docker", "exec", "-i", "btw-acme-postgres", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", "n8n", "-d", "n8n", "-f", "-",
    ]);
  });
});

describe("rotation due", () => {
  const now = new Date("2026-06-01T00:00:00Z");
  const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
  it("is due when any rotated secret reached the age; operator secrets and the encryption key do not count", () => {
    expect(rotationDue([{ name: "POSTGRES_PASSWORD", valueSetAt: daysAgo(10) }, { name: "N8N_API_KEY", valueSetAt: daysAgo(90) }], now, 90)).toBe(true);
    expect(rotationDue([{ name: "POSTGRES_PASSWORD", valueSetAt: daysAgo(89) }, { name: "N8N_ENCRYPTION_KEY", valueSetAt: daysAgo(400) }, { name: "OPENAI_API_KEY", valueSetAt: daysAgo(400) }], now, 90)).toBe(false);
    expect(ageDays(daysAgo(3.5), now)).toBe(3);
  });
});

// The rotation's order, run against a model of everything it touches: the state (sealed
// secrets, the journal row), the database role, the .env the stack runs on, n8n's Postgres
// credential and n8n's API keys. Each step is the list of its effects, in the order the flow
// makes them, each one atomic (a transaction, one remote call); the test kills the run after
// every effect, and again during the re-run, and checks what must hold at every kill point
// and that the last run converges.
describe("secrets rotation: every kill point converges", () => {
  const BASE = "btw";
  interface World {
    state: Map<string, string>;
    journal: (RotationJournal & { id: number }) | null;
    finished: number;
    role: string;
    env: { pg: string; redis: string };
    redisServer: string;
    credential: string;
    keys: Array<{ label: string; value: string }>;
    seq: number;
    /** a step that called n8n while its .env password was not the role's */
    n8nWithoutDb: string[];
  }
  const initial = (): World => ({
    state: new Map([
      ["POSTGRES_PASSWORD", "pg-0"],
      ["REDIS_PASSWORD", "redis-0"],
      ["N8N_API_KEY", "key-0"],
    ]),
    journal: null,
    finished: 0,
    role: "pg-0",
    env: { pg: "pg-0", redis: "redis-0" },
    redisServer: "redis-0",
    credential: "pg-0",
    keys: [{ label: BASE, value: "key-0" }],
    seq: 0,
    n8nWithoutDb: [],
  });
  const live = (w: World) => ({ pg: w.state.get("POSTGRES_PASSWORD_NEXT") ?? w.state.get("POSTGRES_PASSWORD")!, redis: w.state.get("REDIS_PASSWORD_NEXT") ?? w.state.get("REDIS_PASSWORD")! });
  const label = (w: World) => rotationKeyLabel(BASE, w.journal!.id);
  const mark = (w: World, done: RotationStep) => void (w.journal = { ...w.journal!, done });

  /** What each step does, effect by effect, as ops/tenant/secrets-rotate.ts does it. */
  const effects: Record<RotationStep, Array<(w: World) => void>> = {
    seal: [
      (w) => {
        w.seq++;
        w.state.set("POSTGRES_PASSWORD_NEXT", `pg-${w.seq}`);
        w.state.set("REDIS_PASSWORD_NEXT", `redis-${w.seq}`);
        w.journal = { id: 100 + w.seq, order: "standard", done: "seal" };
      },
    ],
    credential: [(w) => void (w.credential = live(w).pg), (w) => mark(w, "credential")],
    role: [(w) => void (w.role = live(w).pg), (w) => mark(w, "role")],
    recreate: [
      (w) => {
        w.env = live(w);
        w.redisServer = w.env.redis;
      },
      (w) => mark(w, "recreate"),
    ],
    promote: [
      (w) => {
        const l = live(w);
        w.state.set("POSTGRES_PASSWORD", l.pg);
        w.state.set("REDIS_PASSWORD", l.redis);
        w.state.delete("POSTGRES_PASSWORD_NEXT");
        w.state.delete("REDIS_PASSWORD_NEXT");
        mark(w, "promote");
      },
    ],
    "key-create": [
      (w) => void (w.keys = w.keys.filter((k) => k.label !== label(w))),
      (w) => void w.keys.push({ label: label(w), value: `key-${++w.seq}` }),
      (w) => {
        w.state.set("N8N_API_KEY_NEXT", w.keys.find((k) => k.label === label(w))!.value);
        mark(w, "key-create");
      },
    ],
    "key-promote": [
      (w) => {
        // a new key lost since key-create is made again
        if (!w.keys.some((k) => k.value === w.state.get("N8N_API_KEY_NEXT"))) for (const fx of effects["key-create"]) fx(w);
        w.state.set("N8N_API_KEY", w.state.get("N8N_API_KEY_NEXT")!);
        mark(w, "key-promote");
      },
    ],
    "key-revoke": [(w) => void (w.keys = w.keys.filter((k) => !keysToRevoke([k], BASE, label(w)).length)), (w) => mark(w, "key-revoke")],
    finish: [
      (w) => {
        w.state.delete("N8N_API_KEY_NEXT");
        w.journal = null;
        w.finished++;
      },
    ],
  };

  /** One run of the rotation from what `w` holds; stops (a kill) after `killAfter` effects. Returns whether it ran to the end. */
  const run = (w: World, killAfter = Infinity): boolean => {
    const plan = resumeRotation({ journal: w.journal, passwordsPending: w.state.has("POSTGRES_PASSWORD_NEXT") && w.state.has("REDIS_PASSWORD_NEXT") });
    if (plan.startJournal) w.journal = { id: 100 + ++w.seq, order: plan.order, done: "seal" };
    let n = 0;
    for (const s of plan.steps) {
      for (const fx of effects[s]) {
        if (n++ >= killAfter) return false;
        if (NEEDS_N8N.has(s) && w.env.pg !== w.role) w.n8nWithoutDb.push(s);
        fx(w);
      }
    }
    return true;
  };
  const effectCount = ROTATION_ORDERS.standard.reduce((a, s) => a + effects[s].length, 0);

  /** What must hold whenever a run is killed. */
  const atKill = (w: World, where: string) => {
    const known = [w.state.get("POSTGRES_PASSWORD"), w.state.get("POSTGRES_PASSWORD_NEXT")];
    expect(known, `${where}: the state knows the role's password`).toContain(w.role);
    expect(known, `${where}: the state knows the .env's password`).toContain(w.env.pg);
    expect(known, `${where}: the state knows the credential's password`).toContain(w.credential);
    expect([w.state.get("REDIS_PASSWORD"), w.state.get("REDIS_PASSWORD_NEXT")], `${where}: the state knows Redis' password`).toContain(w.redisServer);
    expect(w.keys.map((k) => k.value), `${where}: the state's API key works`).toContain(w.state.get("N8N_API_KEY"));
    expect(w.env.redis, `${where}: n8n and Redis agree`).toBe(w.redisServer);
  };
  /** The end state of a rotation that finished. */
  const converged = (w: World, before: World) => {
    expect(w.journal).toBeNull();
    expect([...w.state.keys()].filter((k) => k.endsWith("_NEXT"))).toEqual([]);
    expect(w.role).not.toBe(before.role);
    expect(w.state.get("POSTGRES_PASSWORD")).toBe(w.role);
    expect(w.env.pg).toBe(w.role);
    expect(w.credential).toBe(w.role);
    expect(w.state.get("REDIS_PASSWORD")).toBe(w.redisServer);
    expect(w.redisServer).not.toBe(before.redisServer);
    expect(w.keys.filter((k) => isBtwKeyLabel(BASE, k.label)).map((k) => k.value)).toEqual([w.state.get("N8N_API_KEY")]);
    expect(w.state.get("N8N_API_KEY")).not.toBe(before.state.get("N8N_API_KEY"));
    expect(w.n8nWithoutDb, "n8n was called only while it could reach its database").toEqual([]);
  };
  const clone = (w: World): World => ({ ...w, state: new Map(w.state), keys: w.keys.map((k) => ({ ...k })), env: { ...w.env }, journal: w.journal && { ...w.journal }, n8nWithoutDb: [...w.n8nWithoutDb] });

  it("an uninterrupted run: every step once, in the standard order, converges", () => {
    const w = initial();
    expect(resumeRotation({ journal: null, passwordsPending: false })).toEqual({ order: "standard", steps: ROTATION_ORDERS.standard, resumed: false, startJournal: false });
    expect(run(w)).toBe(true);
    converged(w, initial());
  });

  it("the credential is updated before ALTER ROLE, and every n8n call runs before ALTER ROLE or after the stack runs on the new password", () => {
    const o = ROTATION_ORDERS.standard;
    expect(o.indexOf("credential")).toBeLessThan(o.indexOf("role"));
    expect(o.indexOf("role") + 1).toBe(o.indexOf("recreate"));
    for (const s of NEEDS_N8N) expect(o.indexOf(s) < o.indexOf("role") || o.indexOf(s) > o.indexOf("recreate"), s).toBe(true);
    // the new key is sealed before any old one is deleted, and promoted before that too
    expect(o.indexOf("key-create")).toBeLessThan(o.indexOf("key-promote"));
    expect(o.indexOf("key-promote")).toBeLessThan(o.indexOf("key-revoke"));
  });

  it(`a kill after any of the ${effectCount} effects, then a re-run (itself killed anywhere, then run again), converges`, () => {
    for (let k = 0; k < effectCount; k++) {
      const w = initial();
      expect(run(w, k), `killed after ${k}`).toBe(false);
      atKill(w, `killed after effect ${k}`);
      for (let j = 0; j <= effectCount; j++) {
        const again = clone(w);
        const done = run(again, j);
        if (!done) atKill(again, `killed after effect ${k}, then after ${j} of the re-run`);
        if (!done) expect(run(again), `killed after ${k} then ${j}: the last run`).toBe(true);
        converged(again, initial());
        expect(again.finished).toBe(1);
      }
    }
  });

  it("a new API key lost between key-create and key-promote (n8n's database restored meanwhile) is made again", () => {
    const w = initial();
    const upToKeyPromote = ROTATION_ORDERS.standard.slice(0, ROTATION_ORDERS.standard.indexOf("key-promote")).reduce((a, s) => a + effects[s].length, 0);
    expect(run(w, upToKeyPromote)).toBe(false);
    expect(w.journal?.done).toBe("key-create");
    w.keys = w.keys.filter((k) => k.value !== w.state.get("N8N_API_KEY_NEXT"));
    expect(run(w)).toBe(true);
    converged(w, initial());
  });

  it("the journal says where to resume: the steps after the last done one", () => {
    const o = ROTATION_ORDERS.standard;
    for (const [i, done] of o.slice(0, -1).entries()) {
      const pending = i < o.indexOf("promote");
      expect(resumeRotation({ journal: { order: "standard", done }, passwordsPending: pending })).toEqual({ order: "standard", steps: o.slice(i + 1), resumed: true, startJournal: false });
    }
    expect(() => resumeRotation({ journal: { order: "standard", done: "role" }, passwordsPending: false })).toThrow(/not in the state/);
    expect(() => resumeRotation({ journal: { order: "sideways", done: "role" }, passwordsPending: true })).toThrow(/unknown secrets-rotation order/);
    expect(() => resumeRotation({ journal: { order: "standard", done: "dance" }, passwordsPending: true })).toThrow(/unknown secrets-rotation step/);
  });

  // An older btw: seal (no journal) → ALTER ROLE → credential through the API key → .env and
  // recreate → promote → the API key replaced (the old one deleted first, then the new one
  // stored). Killed after any of those, this btw finishes it.
  const oldBtw: Array<(w: World) => void> = [
    (w) => {
      w.state.set("POSTGRES_PASSWORD_NEXT", "pg-old-next");
      w.state.set("REDIS_PASSWORD_NEXT", "redis-old-next");
    },
    (w) => void (w.role = w.state.get("POSTGRES_PASSWORD_NEXT")!),
    (w) => void (w.credential = w.state.get("POSTGRES_PASSWORD_NEXT")!),
    (w) => {
      w.env = live(w);
      w.redisServer = w.env.redis;
    },
    (w) => {
      w.state.set("POSTGRES_PASSWORD", w.state.get("POSTGRES_PASSWORD_NEXT")!);
      w.state.set("REDIS_PASSWORD", w.state.get("REDIS_PASSWORD_NEXT")!);
      w.state.delete("POSTGRES_PASSWORD_NEXT");
      w.state.delete("REDIS_PASSWORD_NEXT");
    },
    (w) => void (w.keys = w.keys.filter((k) => k.label !== BASE)),
    (w) => void w.keys.push({ label: BASE, value: "key-old-new" }),
  ];

  it("a rotation an older btw left anywhere (even holding a revoked API key) is finished, calling n8n only when it has its database", () => {
    for (let k = 1; k < oldBtw.length; k++) {
      const w = initial();
      for (const fx of oldBtw.slice(0, k)) fx(w);
      const before = clone(w);
      // this btw's re-run killed too, anywhere, then run again
      for (let j = 0; j < effectCount; j++) {
        const again = clone(w);
        if (!run(again, j)) expect(run(again), `older btw killed after ${k}, this one after ${j}`).toBe(true);
        expect(again.n8nWithoutDb, `older btw killed after ${k}, this one after ${j}`).toEqual([]);
        expect(again.credential, `older btw killed after ${k}, this one after ${j}`).toBe(again.role);
        expect(again.state.get("POSTGRES_PASSWORD")).toBe(again.role);
      }
      expect(run(w), `older btw killed after ${k}`).toBe(true);
      expect(w.n8nWithoutDb, `older btw killed after ${k}`).toEqual([]);
      expect(w.journal).toBeNull();
      expect([...w.state.keys()].filter((x) => x.endsWith("_NEXT"))).toEqual([]);
      expect(w.role).toBe(w.state.get("POSTGRES_PASSWORD"));
      expect(w.env.pg).toBe(w.role);
      expect(w.credential).toBe(w.role);
      expect(w.redisServer).toBe(w.state.get("REDIS_PASSWORD"));
      expect(w.keys.filter((x) => isBtwKeyLabel(BASE, x.label)).map((x) => x.value)).toEqual([w.state.get("N8N_API_KEY")]);
      if (k === oldBtw.length - 1) expect(before.keys.map((x) => x.value), "the state held a revoked key").not.toContain(before.state.get("N8N_API_KEY"));
    }
    // the *_NEXT passwords without a journal: finished in the legacy order, role and .env first
    expect(resumeRotation({ journal: null, passwordsPending: true })).toEqual({ order: "legacy", steps: ROTATION_ORDERS.legacy.slice(1), resumed: true, startJournal: true });
  });

  it("key-revoke deletes only keys btw made, never the rotation's new one or the operator's", () => {
    const keys = [{ label: "btw" }, { label: "btw rotation 7" }, { label: "btw rotation 9" }, { label: "zapier" }, { label: "btw rotation 7b" }, { label: "mine btw" }];
    expect(keysToRevoke(keys, "btw", rotationKeyLabel("btw", 9)).map((k) => k.label)).toEqual(["btw", "btw rotation 7"]);
    expect(isBtwKeyLabel("btw", "btw rotation 12")).toBe(true);
    expect(isBtwKeyLabel("btw", "btw rotation")).toBe(false);
  });
});
