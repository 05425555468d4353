import { randomBytes } from "node:crypto";
import type { Ctx } from "../../cli/context.js";
import { execPsql } from "../../core/backup/commands.js";
import { QUARANTINE_SQL } from "../../core/backup/scratch.js";
import type { BackupManifest } from "../../core/backup/manifest.js";
import { consistencyLines } from "../../core/backup/consistency.js";
import { countMismatches, scratchSubnet } from "../../core/backup/checks.js";
import { tenantLayout, ownerEmail } from "../../core/tenant/layout.js";
import { isBtwError, OperationError } from "../../errors.js";
import type { BackupStorage } from "../../remote/backup-storage.js";
import type { BackupRow } from "../../state/backups.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import { openServerSession, type ServerSession } from "./tenant.js";
import { openN8nTunnel } from "../n8n-tunnel.js";
import { removeScratch, sweepStaleScratch, thisOwner } from "../scratch-stacks.js";
import { checkBackup, liveCounts, openBackupRow, openEscrow, restoreData, restoredSecrets } from "./restore-data.js";
import { envFor, writeTenantFiles } from "../tenant-context.js";
import { backupImages } from "./restore-data.js";
import { GENERATED, N8N_API_KEY } from "../tenant-secrets.js";

// `backup verify`: proves a backup restores. The object is read and checked end to end, then
// restored into a scratch stack (`vfy-<random>`, no tenant row, no route) on a server; the
// restored n8n must become ready with the escrowed key, hold the workflow, credential and
// execution counts the manifest recorded, and decrypt every credential. The scratch stack
// (containers, volumes, networks, files) is removed whatever the outcome.
//
// Quarantine: the scratch stack runs the customer's real workflows with real credentials, so
// it gets no egress (its edge network is internal too: no route out; verify reaches n8n by
// the SSH tunnel to its address) and nothing fires in it (workflows deactivated, waits and
// webhooks cleared in the restored database before n8n starts). Its containers carry
// btw.scratch=1, the state, created-at and owner labels: a stack left by a crashed verify is
// removed by the next verify on that server (and reported by `btw doctor`).

export interface VerifyResult {
  id: string;
  tenant: string;
  server: string | null;
  ok: boolean;
  seconds: number;
  checks: Array<{ check: string; ok: boolean; detail?: string }>;
  /** how the backup's parts were taken and what a restore of it may lack (its manifest's record) */
  consistency?: string[];
  /** stale scratch stacks (left by a crashed verify) removed from the server before this one */
  removedStale?: Array<{ slug: string; reason: string }>;
  error?: string;
}

/** The requested server, else the tenant's: what the state alone says (null: the manifest decides). */
async function serverFromState(db: Db, row: BackupRow, requested?: string): Promise<ServerRow | null> {
  const { requireServer } = await import("../server/context.js");
  if (requested) return requireServer(db, requested);
  const { getTenant } = await import("../../state/tenants.js");
  const t = await getTenant(db, row.tenantSlug);
  const { getServer } = await import("../../state/servers.js");
  return t?.serverId ? await getServer(db, t.serverId) : null;
}

/** Where each backup would be verified (`backup verify --dry-run`): no storage read, no server. */
export async function planVerify(db: Db, rows: BackupRow[], requested?: string): Promise<Array<{ backup: string; tenant: string; server: string }>> {
  return Promise.all(
    rows.map(async (row) => ({
      backup: row.id,
      tenant: row.tenantSlug,
      server: (await serverFromState(db, row, requested))?.name ?? "the server in its manifest, else an active one",
    })),
  );
}

async function chooseServer(db: Db, row: BackupRow, m: BackupManifest, requested?: string): Promise<ServerRow> {
  const { getServerByName, listServers } = await import("../../state/servers.js");
  const known = await serverFromState(db, row, requested);
  if (known) return known;
  const original = await getServerByName(db, m.server);
  if (original) return original;
  const any = (await listServers(db)).find((s) => s.status === "active");
  if (!any) throw new OperationError("no active server to run the scratch stack on", { code: "no-server" });
  return any;
}

async function credentialsDecrypt(baseUrl: string, email: string, password: string): Promise<{ ok: boolean; detail: string }> {
  const { N8nClient } = await import("../../remote/n8n.js");
  const client = new N8nClient({ baseUrl, label: "scratch n8n" });
  const cookie = await client.login(email, password);
  const get = async (path: string) => {
    const res = await fetch(`${baseUrl}${path}`, { headers: { cookie, accept: "application/json" }, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json: json as { data?: unknown; message?: string } | null };
  };
  const list = await get("/rest/credentials");
  if (list.status !== 200) return { ok: false, detail: `listing credentials answered HTTP ${list.status}` };
  const creds = (list.json?.data ?? []) as Array<{ id: string; name: string }>;
  const failed: string[] = [];
  for (const c of creds) {
    const one = await get(`/rest/credentials/${encodeURIComponent(c.id)}?includeData=true`);
    const data = (one.json?.data as { data?: unknown } | undefined)?.data;
    if (one.status !== 200 || !data || typeof data !== "object") failed.push(`${c.name} (HTTP ${one.status}${one.json?.message ? `: ${one.json.message}` : ""})`);
  }
  return failed.length ? { ok: false, detail: `cannot decrypt: ${failed.join(", ")}` } : { ok: true, detail: `${creds.length} credential(s) decrypt` };
}

export async function verifyBackup(ctx: Ctx, db: Db, storage: BackupStorage, row: BackupRow, opts: { server?: string; sessions?: Map<string, Promise<ServerSession>> } = {}): Promise<VerifyResult> {
  const t0 = Date.now();
  const checks: VerifyResult["checks"] = [];
  const master = await ctx.master();
  let serverName: string | null = null;
  let cleanup: (() => Promise<void>) | null = null;
  let removedStale: VerifyResult["removedStale"];
  let consistency: string[] | undefined;
  try {
    const key = await openBackupRow(db, storage, row);
    const manifest = await checkBackup(storage, key, master, row.id);
    checks.push({ check: "integrity", ok: true, detail: `${manifest.parts.length} parts, sha256 match` });
    consistency = consistencyLines(manifest.consistency);
    const escrow = openEscrow(master, manifest);
    const server = await chooseServer(db, row, manifest, opts.server);
    serverName = server.name;
    let sessionP = opts.sessions?.get(server.name);
    if (!sessionP) {
      sessionP = openServerSession(ctx, server);
      opts.sessions?.set(server.name, sessionP);
    }
    const session = await sessionP;
    removedStale = (await sweepStaleScratch(session.host)).map((s) => ({ slug: s.slug, reason: s.reason }));

    const scratch = `vfy-${randomBytes(4).toString("hex")}`;
    const layout = tenantLayout(scratch);
    const planName = ctx.config.plans[manifest.plan] ? manifest.plan : ctx.config.defaults.plan;
    // regular mode whatever the plan: a worker adds nothing to what is checked
    const plan = { ...ctx.config.plans[planName]!, queueMode: false };
    const { usedSubnets } = await import("../../state/tenants.js");
    const lock = await db.lock({ kind: "server", name: server.name }, { timeoutMs: 60_000 });
    let subnet: string | null;
    try {
      subnet = scratchSubnet(ctx.config.placement.subnetPool, ctx.config.placement.subnetPrefix, await usedSubnets(db, server.id));
    } finally {
      await lock.release();
    }
    if (!subnet) throw new OperationError(`no free subnet on ${server.name} for a scratch stack`, { code: "subnets-exhausted" });
    const secrets = new Map(Object.entries(restoredSecrets(escrow)));

    cleanup = () => removeScratch(session.host, scratch);
    const marks = { createdAt: new Date().toISOString(), owner: thisOwner() };
    await session.host.mkdir(layout.dir, "0700");
    await writeTenantFiles(session.host, scratch, envFor(ctx, { slug: scratch, plan, timezone: manifest.timezone, subnet, scratch: marks, images: backupImages(ctx, manifest) }, secrets));
    const { execText } = await import("../../remote/backup-exec.js");
    await restoreData({
      session,
      slug: scratch,
      plan,
      storage,
      key,
      master,
      backupId: row.id,
      beforeStart: async () => {
        await execText(session.docker, layout.containers.postgres, execPsql(QUARANTINE_SQL), "deactivate the scratch copy's workflows");
      },
    });
    checks.push({ check: "pg_restore", ok: true });

    const tunnel = await openN8nTunnel(session.host, scratch);
    try {
      const { N8nClient } = await import("../../remote/n8n.js");
      const client = new N8nClient({ baseUrl: tunnel.baseUrl, label: `scratch n8n for ${row.id}` });
      await client.waitReady(180_000);
      checks.push({ check: "n8n ready with the escrowed key", ok: true });
      const counts = await liveCounts(session.docker, scratch).catch(() => null);
      const mismatches = countMismatches(manifest.counts, counts);
      checks.push({ check: "row counts match the manifest", ok: mismatches.length === 0, detail: mismatches.join("; ") || JSON.stringify(counts) });
      const apiKey = escrow.get(N8N_API_KEY);
      if (apiKey) {
        const wf = (await client.withApiKey(apiKey).listWorkflows()).length;
        const expected = manifest.counts.workflows;
        checks.push({ check: "workflows through the API", ok: expected === null || wf === expected, detail: `${wf}${expected === null ? "" : ` of ${expected}`}` });
      }
      const owner = escrow.get(GENERATED.ownerPassword);
      if (owner) {
        const dec = await credentialsDecrypt(tunnel.baseUrl, ownerEmail(manifest.tenant, ctx.config.domain), owner);
        checks.push({ check: "credentials decrypt", ok: dec.ok, detail: dec.detail });
      } else {
        checks.push({ check: "credentials decrypt", ok: false, detail: "no owner password in the escrow to log in with" });
      }
    } finally {
      await tunnel.close();
    }
    const ok = checks.every((c) => c.ok);
    if (ok) {
      const { markBackupVerified } = await import("../../state/backups.js");
      await markBackupVerified(db, row.id);
    }
    return { id: row.id, tenant: row.tenantSlug, server: serverName, ok, seconds: (Date.now() - t0) / 1000, checks, consistency, ...(removedStale?.length ? { removedStale } : {}) };
  } catch (e) {
    const message = ((e as Error).message ?? String(e)).split("\n")[0]!;
    checks.push({ check: isBtwError(e) && e.code === "backup-corrupt" ? "integrity" : "restore", ok: false, detail: message });
    return { id: row.id, tenant: row.tenantSlug, server: serverName, ok: false, seconds: (Date.now() - t0) / 1000, checks, ...(consistency ? { consistency } : {}), ...(removedStale?.length ? { removedStale } : {}), error: message };
  } finally {
    if (cleanup) await cleanup().catch(() => {});
  }
}
