// A hostile tenant for the e2e suite (issue 24): workflows whose Code nodes try to read what
// must stay out of their reach and to starve their neighbours. Each probe returns what it got
// (or the error), so the test asserts outcomes, not just "no crash".
import type { TenantApi } from "../../integration/backup/tenant-api.js";

/**
 * The Code node's probes: environment, files, processes, the network, code generated from
 * strings (eval runs — Node's flag leaves vm contexts alone — but only inside the sandbox; the
 * Function constructor is refused), the this.constructor way out of a vm sandbox. Everything
 * it finds is returned.
 */
export const PROBE_CODE = [
  "const out = {};",
  "const grab = (name, f) => { try { const v = f(); out[name] = { ok: true, value: typeof v === 'string' ? v.slice(0, 4000) : JSON.stringify(v ?? null).slice(0, 4000) }; } catch (e) { out[name] = { ok: false, error: String((e && e.message) || e).slice(0, 300) }; } };",
  "grab('process.env', () => process.env);",
  "grab('$env.N8N_ENCRYPTION_KEY', () => $env.N8N_ENCRYPTION_KEY);",
  "grab('$env.DB_POSTGRESDB_PASSWORD', () => $env.DB_POSTGRESDB_PASSWORD);",
  "grab('require fs /proc/1/environ', () => require('fs').readFileSync('/proc/1/environ', 'utf8'));",
  "grab('require fs settings file', () => require('fs').readFileSync('/home/node/.n8n/config', 'utf8'));",
  "grab('require child_process', () => require('child_process').execSync('id').toString());",
  "grab('require net', () => typeof require('net').connect);",
  "grab('require http', () => typeof require('http').request);",
  "grab('Function from a string', () => (function () {}).constructor('return process')().env);",
  "grab('eval of process.env', () => eval('process.env'));",
  "grab('this.constructor escape', () => this.constructor.constructor('return process')().env);",
  "grab('globalThis.process', () => globalThis.process && globalThis.process.env);",
  "return [{ json: out }];",
].join("\n");

/** Spins one CPU for `seconds` in a Code node. */
export const spinCode = (seconds: number): string => `const end = Date.now() + ${seconds * 1000}; let n = 0; while (Date.now() < end) { n++; } return [{ json: { n } }];`;

/** Allocates until the runner's heap gives out. */
export const MEMORY_BOMB_CODE = "const keep = []; for (;;) { keep.push(new Array(1e6).fill(Math.random())); } return [];";

export interface Probe {
  ok: boolean;
  value?: string;
  error?: string;
}

/** Creates a manual workflow of one Code node, runs it, and returns its execution (status and the node's first item). */
export async function runCode(api: TenantApi, name: string, jsCode: string, timeoutMs = 180_000): Promise<{ status: string; json: Record<string, unknown> | null; error: string | null }> {
  const wf = await api.api<{ id: string }>("POST", "/api/v1/workflows", {
    name,
    nodes: [
      { id: "a", name: "Start", type: "n8n-nodes-base.manualTrigger", typeVersion: 1, position: [0, 0], parameters: {} },
      { id: "b", name: "Code", type: "n8n-nodes-base.code", typeVersion: 2, position: [200, 0], parameters: { jsCode } },
    ],
    connections: { Start: { main: [[{ node: "Code", type: "main", index: 0 }]] } },
    settings: { executionOrder: "v1", saveManualExecutions: true },
  });
  if (wf.status !== 200) throw new Error(`create workflow ${name}: HTTP ${wf.status} ${JSON.stringify(wf.json).slice(0, 200)}`);
  const full = await api.rest<{ data: unknown }>("GET", `/rest/workflows/${wf.json.id}`);
  const run = await api.rest<{ data: { executionId?: string } }>("POST", `/rest/workflows/${wf.json.id}/run`, { workflowData: full.json.data, triggerToStartFrom: { name: "Start" } });
  const id = run.json.data?.executionId;
  if (run.status !== 200 || !id) throw new Error(`run ${name}: HTTP ${run.status} ${JSON.stringify(run.json).slice(0, 300)}`);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ex = await api.api<{ status: string; finished: boolean; data?: { resultData?: { error?: { message?: string }; runData?: Record<string, Array<{ data?: { main?: Array<Array<{ json: Record<string, unknown> }>> }; error?: { message?: string } }>> } } }>(
      "GET",
      `/api/v1/executions/${id}?includeData=true`,
    );
    if (ex.status === 200 && !["new", "running", "waiting"].includes(ex.json.status)) {
      const node = ex.json.data?.resultData?.runData?.Code?.[0];
      return {
        status: ex.json.status,
        json: node?.data?.main?.[0]?.[0]?.json ?? null,
        error: node?.error?.message ?? ex.json.data?.resultData?.error?.message ?? null,
      };
    }
    if (Date.now() > until) throw new Error(`${name}: execution ${id} still ${ex.json.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Median of a list of numbers. */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
