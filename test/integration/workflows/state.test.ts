// What `workflows deploy` and `workflows rollback` keep in the central state (migration 004_workflow_templates.sql),
// on both drivers: deployments with the template they pushed (stored once by content), the
// current versions of many tenants at once, and a rollback walking the real history back.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planRollback, storedTemplate } from "../../../src/core/workflows/index.js";
import { recordDeployed } from "../../../src/ops/workflows/deploy.js";
import type { Db } from "../../../src/state/db.js";
import { migrate } from "../../../src/state/migrate.js";
import { insertServer } from "../../../src/state/servers.js";
import { insertTenant, type TenantRow } from "../../../src/state/tenants.js";
import {
  currentWorkflowDeployments,
  currentWorkflowDeploymentsOf,
  getWorkflowTemplate,
  listWorkflowDeployments,
  storeWorkflowTemplate,
} from "../../../src/state/workflow-deployments.js";
import { DRIVERS, driverFixture, type DriverFixture } from "../state/drivers.js";

const template = (marker: string) => ({
  name: "WF2 Clustering",
  nodes: [
    { name: "When called by WF1", type: "n8n-nodes-base.executeWorkflowTrigger", typeVersion: 1.1, position: [0, 0], parameters: { inputSource: "passthrough" } },
    { name: "Build clusters", type: "n8n-nodes-base.code", typeVersion: 2, position: [200, 0], parameters: { jsCode: `// ${marker}\nreturn [];` }, credentials: { postgres: { id: "", name: "btw Postgres" } } },
  ],
  connections: { "When called by WF1": { main: [[{ node: "Build clusters", type: "main", index: 0 }]] } },
  settings: { executionOrder: "v1" },
  // export-only fields: not part of the stored template
  id: "abc",
  active: true,
  tags: [],
});

describe.each(DRIVERS)("workflow deployment state on %s", (driver) => {
  let fx: DriverFixture;
  let db: Db;
  let acme: TenantRow;
  let beta: TenantRow;

  beforeAll(async () => {
    fx = await driverFixture(driver);
    db = await fx.open();
    await migrate(db);
    const s = await insertServer(db, { name: "s1", host: "10.0.0.1", capacity: 10 });
    acme = await insertTenant(db, { slug: "acme", plan: "starter", serverId: s.id, status: "active" });
    beta = await insertTenant(db, { slug: "beta", plan: "starter", serverId: s.id, status: "active" });
  });
  afterAll(() => fx?.dispose());

  it("stores a template once by content, and it comes back with the same sha256", async () => {
    const t = storedTemplate(template("v1"));
    await storeWorkflowTemplate(db, { sha256: t.sha256, workflowKey: "wf2", version: "1", template: t.template });
    await storeWorkflowTemplate(db, { sha256: t.sha256, workflowKey: "wf2", version: "1", template: t.template });
    expect((await db.query("select count(*)::int as n from workflow_templates")).rows[0]).toEqual({ n: 1 });
    const back = await getWorkflowTemplate(db, t.sha256);
    expect(back).toMatchObject({ sha256: t.sha256, workflowKey: "wf2", version: "1" });
    expect(back!.template).not.toHaveProperty("id");
    // jsonb's round trip (key order, number forms) does not change its name: rollback records it again under it
    expect(storedTemplate(back!.template).sha256).toBe(t.sha256);
    expect(await getWorkflowTemplate(db, "0".repeat(64))).toBeNull();
  });

  it("refuses a deployment naming a template that is not stored", async () => {
    await expect(
      db.query("insert into workflow_deployments (tenant_id, workflow_key, version, checksum, template_sha256) values ($1, 'wf2', '1', 'c', $2)", [acme.id, "f".repeat(64)]),
    ).rejects.toMatchObject({ code: "23503" });
  });

  it("records deployments with their template; a rollback walks the real history back and marks what it skipped", async () => {
    await recordDeployed(db, acme, { key: "wf2", version: "1", n8nId: "w2", liveChecksum: "live-1", template: template("v1") });
    await recordDeployed(db, acme, { key: "wf2", version: "2", n8nId: "w2", liveChecksum: "live-2", template: template("v2") });
    await recordDeployed(db, beta, { key: "wf2", version: "1", n8nId: "x2", liveChecksum: "live-1b", template: template("v1") });
    expect((await db.query("select count(*)::int as n from workflow_templates")).rows[0]).toEqual({ n: 2 });

    const plan = planRollback(await listWorkflowDeployments(db, { tenantId: acme.id }), [{ key: "wf2", calls: [] }]);
    expect(plan.steps).toHaveLength(1);
    const step = plan.steps[0]!;
    expect(step).toMatchObject({ key: "wf2", n8nId: "w2", fromVersion: "2", toVersion: "1", templateSha256: storedTemplate(template("v1")).sha256 });

    const stored = (await getWorkflowTemplate(db, step.templateSha256))!;
    await recordDeployed(db, acme, { key: "wf2", version: step.toVersion, n8nId: step.n8nId, liveChecksum: "live-1-again", template: stored.template, origin: "rollback", supersede: step.supersededRowIds });
    const history = await listWorkflowDeployments(db, { tenantId: acme.id });
    expect(history.map((h) => [h.version, h.status, h.origin, h.checksum])).toEqual([
      ["1", "deployed", "rollback", "live-1-again"],
      ["2", "rolled_back", "deploy", "live-2"],
      ["1", "deployed", "deploy", "live-1"],
    ]);
    expect(history[0]!.templateSha256).toBe(history[2]!.templateSha256);
    expect((await currentWorkflowDeployments(db, acme.id)).map((r) => `${r.workflowKey}@${r.version}:${r.checksum}`)).toEqual(["wf2@1:live-1-again"]);
    // nothing older than version 1: a second rollback has nowhere to go
    expect(planRollback(history, [{ key: "wf2", calls: [] }]).steps).toEqual([]);
  });

  it("reads the current versions of many tenants in one query", async () => {
    const m = await currentWorkflowDeploymentsOf(db, [acme.id, beta.id, 999_999]);
    expect([...m.keys()]).toEqual([acme.id, beta.id, 999_999]);
    expect(m.get(acme.id)!.map((r) => `${r.workflowKey}@${r.version}`)).toEqual(["wf2@1"]);
    expect(m.get(beta.id)!.map((r) => `${r.n8nId}`)).toEqual(["x2"]);
    expect(m.get(999_999)).toEqual([]);
    expect((await currentWorkflowDeploymentsOf(db, [])).size).toBe(0);
  });
});
