import { requireTenantSlug } from "../tenant/layout.js";
import type { BackupConsistency } from "./consistency.js";

// What a backup says about itself. The start record is written before the parts, the
// manifest after them; the manifest is also kept in the state (`backups.manifest`) minus
// nothing: the escrowed secrets in it are sealed under the master key, never plaintext.

export const BACKUP_FORMAT = "btw-backup/1";
export const PART_DATABASE = "postgres.dump";
export const PART_N8N_DATA = "n8n-data.tar";

export interface BackupStart {
  format: typeof BACKUP_FORMAT;
  id: string;
  tenant: string;
  createdAt: string;
  server: string;
  plan: string;
  timezone: string;
  n8nVersion: string | null;
  images: { n8n: string | null; postgres: string | null; redis: string | null };
  /** the tenant's deployed workflows at backup time (absent in backups of older btw) */
  workflows?: BackupWorkflow[];
}

/** One deployed workflow as the state recorded it: what a restore writes back. */
export interface BackupWorkflow {
  key: string;
  version: string;
  n8nId: string | null;
  checksum: string;
  templateSha256: string | null;
}

export interface BackupPart {
  name: string;
  size: number;
  sha256: string;
}

/** Row counts taken around the dump; null when they changed during it (then unchecked). */
export interface BackupCounts {
  workflows: number | null;
  credentials: number | null;
  executions: number | null;
}

export interface BackupManifest extends BackupStart {
  finishedAt: string;
  parts: BackupPart[];
  counts: BackupCounts;
  /**
   * The tenant's secrets (N8N_ENCRYPTION_KEY, the owner password, the API key, …) as one
   * JSON object sealed under the master key, context `backup:<id>/secrets`. A restore needs
   * the same encryption key or every n8n credential is lost.
   */
  escrow: { keyId: string; sealed: string; names: string[] };
  /** how each part was taken and what a restore may lack (absent in backups of older btw) */
  consistency?: BackupConsistency;
}

/** What `backup list --json` and audit rows may show: everything but the sealed escrow. */
export function publicManifest(m: Partial<BackupManifest>): Record<string, unknown> {
  const { escrow, ...rest } = m;
  return { ...rest, ...(escrow ? { escrow: { keyId: escrow.keyId, names: escrow.names } } : {}) };
}

export const escrowContext = (id: string) => `backup:${id}/secrets`;
export const dataKeyContext = (id: string) => `backup:${id}/data-key`;

/** e.g. acme-20260101T020000Z-3f2a: sortable per tenant, unique, safe as a file name. */
export function backupId(slug: string, at: Date, random: string): string {
  requireTenantSlug(slug);
  if (!/^[0-9a-f]{4,16}$/.test(random)) throw new RangeError("backupId: random part must be hex");
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
  return `${slug}-${stamp}-${random}`;
}

/** The object name under the storage root: <tenant>/<id>.btwb */
export function backupKey(slug: string, id: string): string {
  requireTenantSlug(slug);
  if (!/^[a-z0-9][a-z0-9-]*-\d{8}T\d{6}Z-[0-9a-f]+$/.test(id)) throw new RangeError(`invalid backup id ${JSON.stringify(id)}`);
  return `${slug}/${id}.btwb`;
}
