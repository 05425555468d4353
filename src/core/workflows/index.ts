// Workflow templates (workflows/): manifest, API payloads, binding to a tenant, checksums,
// deploy plans. Pure; the deployer reads the files and talks to n8n (src/remote/n8n.ts).
export * from "./manifest.js";
export * from "./payload.js";
export * from "./template.js";
export * from "./plan.js";
export * from "./credentials.js";
export * from "./diff.js";
export * from "./rollback.js";
export * from "./rollout.js";
