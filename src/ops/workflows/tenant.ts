import type { Ctx } from "../../cli/context.js";
import { OperationError } from "../../errors.js";
import type { N8nClient } from "../../remote/n8n.js";
import type { Db } from "../../state/db.js";
import type { ServerRow } from "../../state/servers.js";
import type { TenantRow } from "../../state/tenants.js";
import type { Host } from "../host.js";
import { hostFor, lockTenant, tenantServer } from "../tenant-context.js";
import { GENERATED, N8N_API_KEY, readAllSecrets } from "../tenant-secrets.js";
import { ownerEmail } from "../../core/tenant/layout.js";

// Reaching one tenant's n8n for the workflows verbs: its server's SSH connection (one per
// server for the whole command, shared by every tenant there), a tunnel to its n8n, its
// sealed secrets and the API key stored at provisioning. Optionally under the tenant's lock.

/** One Host (one SSH master) per server for a command that visits many tenants. */
export class HostPool {
  private readonly hosts = new Map<number, Promise<Host>>();
  constructor(private readonly ctx: Ctx) {}

  get(server: ServerRow): Promise<Host> {
    let h = this.hosts.get(server.id);
    if (!h) {
      h = (async () => {
        const host = await hostFor(this.ctx, server);
        await host.ssh.connect();
        return host;
      })();
      // a failed connection is retried by the next tenant rather than cached as failed
      h.catch(() => this.hosts.delete(server.id));
      this.hosts.set(server.id, h);
    }
    return h;
  }
}

export interface TenantN8n {
  tenant: TenantRow;
  server: ServerRow;
  api: N8nClient;
  /** the tenant's secrets, opened (never print them) */
  secrets: Map<string, string>;
}

export interface ConnectOptions {
  /** take the tenant's advisory lock (mutations); a held lock fails at once (exit 75) */
  lock?: boolean;
  /** how long to wait for n8n's API to answer; default 30 s */
  readyTimeoutMs?: number;
}

export async function withTenantN8n<T>(ctx: Ctx, db: Db, hosts: HostPool, tenant: TenantRow, fn: (t: TenantN8n) => Promise<T>, opts: ConnectOptions = {}): Promise<T> {
  const lock = opts.lock ? await lockTenant(db, tenant.slug) : null;
  try {
    const server = await tenantServer(db, tenant);
    const secrets = await readAllSecrets(db, await ctx.master(), tenant.id);
    const apiKey = secrets.get(N8N_API_KEY);
    if (!apiKey) {
      throw new OperationError(`${tenant.slug} has no n8n API key in the state (provisioning did not get that far)`, {
        code: "n8n-api-key-missing",
        hint: `finish it: \`btw tenant create ${tenant.slug}\``,
      });
    }
    const host = await hosts.get(server);
    const { openN8nTunnel } = await import("../n8n-tunnel.js");
    const tunnel = await openN8nTunnel(host, tenant.slug);
    try {
      const { N8nClient } = await import("../../remote/n8n.js");
      const api = new N8nClient({ baseUrl: tunnel.baseUrl, apiKey, label: `n8n of tenant '${tenant.slug}'` });
      const ownerPassword = secrets.get(GENERATED.ownerPassword);
      if (ownerPassword) api.withOwnerLogin(ownerEmail(tenant.slug, ctx.config.domain), ownerPassword);
      await api.waitReady(opts.readyTimeoutMs ?? 30_000);
      return await fn({ tenant, server, api, secrets });
    } finally {
      await tunnel.close();
    }
  } finally {
    await lock?.release();
  }
}
