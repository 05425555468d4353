// Types of the n8n client (src/remote/n8n.ts): what btw sends to and reads from n8n 2.x.

export interface N8nClientOptions {
  /** e.g. http://127.0.0.1:45678 — no trailing path */
  baseUrl: string;
  /** public-API key (X-N8N-API-KEY); needed for everything under /api/v1 */
  apiKey?: string;
  /** per-request timeout; default 30 s */
  timeoutMs?: number;
  /** how messages name this instance, e.g. "n8n of tenant 'acme'"; default "n8n at <host:port>" */
  label?: string;
  /** for tests */
  fetch?: typeof fetch;
}

export interface N8nOwner {
  email: string;
  firstName: string;
  lastName: string;
  /** 8–64 chars with a digit and an uppercase letter (n8n's rule) */
  password: string;
}

export interface N8nCredential {
  id: string;
  name: string;
  type: string;
  createdAt?: string;
  updatedAt?: string;
}

export interface N8nCredentialInput {
  name: string;
  type: string;
  data: Record<string, unknown>;
}

export interface N8nNode {
  id?: string;
  name: string;
  type: string;
  typeVersion: number;
  position: [number, number] | number[];
  parameters: Record<string, unknown>;
  credentials?: Record<string, { id?: string; name: string }>;
  [key: string]: unknown;
}

/** Exactly what POST/PUT /api/v1/workflows accept. */
export interface N8nWorkflowPayload {
  name: string;
  nodes: N8nNode[];
  connections: Record<string, unknown>;
  settings: Record<string, unknown>;
  staticData?: Record<string, unknown> | null;
}

export interface N8nWorkflow extends N8nWorkflowPayload {
  id: string;
  active: boolean;
  versionId?: string;
  activeVersionId?: string | null;
  createdAt?: string;
  updatedAt?: string;
  tags?: N8nTag[];
  [key: string]: unknown;
}

export interface N8nTag {
  id: string;
  name: string;
}

export type N8nExecutionStatus = "canceled" | "crashed" | "error" | "new" | "running" | "success" | "unknown" | "waiting";

export interface N8nExecution {
  id: string;
  workflowId: string;
  status: N8nExecutionStatus;
  finished: boolean;
  mode: string;
  startedAt: string | null;
  stoppedAt: string | null;
  /** present with includeData */
  data?: unknown;
}
