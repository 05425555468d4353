/**
 * n8n answers /healthz/readiness a few seconds before it mounts /rest, and a request made while
 * its container is being recreated sees the socket cut. A read of a tenant's data right after a
 * start (create, restore, upgrade, resume) retries on these errors only, every 3 s, ~1 min.
 */
export const N8N_NOT_ANSWERING_YET = /HTTP 404|HTTP 502|HTTP 503|ECONNREFUSED|ECONNRESET|socket hang up|UND_ERR_SOCKET|other side closed/;

export async function onceN8nAnswers<T>(read: () => Promise<T>, attempts = 20, pauseMs = 3000): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause;
      if (attempt >= attempts || !N8N_NOT_ANSWERING_YET.test(`${String(e)} ${cause ? String((cause as { code?: string }).code ?? cause) : ""}`)) throw e;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}
