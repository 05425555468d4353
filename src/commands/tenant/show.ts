import type { Handler } from "../../cli/program.js";
import { requireTenant } from "../../ops/tenant-context.js";

const handler: Handler = async (ctx, [name]) => {
  const db = await ctx.db();
  const tenant = await requireTenant(db, String(name));
  const { getServer } = await import("../../state/servers.js");
  const { listSecretAges } = await import("../../state/tenant-secrets.js");
  const { listOperations } = await import("../../state/operations.js");
  const { currentWorkflowDeployments } = await import("../../state/workflow-deployments.js");
  const { listTenantDomains } = await import("../../state/tenant-domains.js");
  const [server, ages, ops, workflows, domainRows] = await Promise.all([
    tenant.serverId === null ? null : getServer(db, tenant.serverId),
    listSecretAges(db, tenant.id),
    listOperations(db, { tenantId: tenant.id, limit: 20 }),
    currentWorkflowDeployments(db, tenant.id),
    listTenantDomains(db, { tenantId: tenant.id }),
  ]);
  const domains = domainRows.map((d) => ({ hostname: d.hostname, webhook: d.webhook }));
  const secretNames = ages.map((a) => a.name);
  const { ageDays } = await import("../../core/tenant/secret-rotation.js");
  const now = new Date();
  // each value's age (when it last changed, not when a key rotation re-sealed it)
  const secretAges = ages.map((a) => ({ name: a.name, setAt: new Date(a.valueSetAt).toISOString(), ageDays: ageDays(new Date(a.valueSetAt), now) }));
  const url = `${ctx.config.proxy.tls === "off" ? "http" : "https"}://${tenant.slug}.${ctx.config.domain}/`;
  const data = { tenant: { ...tenant, server: server?.name ?? null, url }, secrets: secretNames, secretAges, workflows, domains, operations: ops };
  ctx.out.result(data, () =>
    [
      `tenant     ${tenant.slug}`,
      `status     ${tenant.status}${tenant.status === "failed" ? ` at step ${tenant.failedStep}: ${tenant.error}` : ""}`,
      `plan       ${tenant.plan} (weight ${tenant.weight})`,
      `server     ${server ? `${server.name} (${server.host})` : "-"}`,
      `url        ${url}`,
      `domains    ${domains.map((d) => `${d.hostname}${d.webhook ? " (webhooks)" : ""}`).join(", ") || "none"}`,
      `subnet     ${tenant.subnet ?? "-"}`,
      `timezone   ${tenant.timezone}`,
      `created    ${new Date(tenant.createdAt).toISOString()}`,
      `secrets    ${secretAges.map((a) => `${a.name} (${a.ageDays} d)`).join(", ") || "none"} (values never shown; age in days)`,
      `workflows  ${workflows.length ? workflows.map((w) => `${w.workflowKey}@${w.version}`).join(", ") : "none"}`,
      "journal:",
      ...ops.map((o) => `  ${new Date(o.startedAt).toISOString().slice(11, 19)} ${o.kind} ${o.step.padEnd(15)} ${o.status}${o.error ? `: ${o.error}` : ""}`),
    ].join("\n"),
  );
};
export default handler;
