// POST a JSON body to a URL (Slack's incoming webhooks, generic webhooks). The URL may carry
// a token: errors never include it, only the host's answer code or the network error's kind.

export interface PostJsonOptions {
  bearerToken?: string;
  timeoutMs: number;
}

export async function postJson(url: string, body: unknown, o: PostJsonOptions): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(o.bearerToken ? { authorization: `Bearer ${o.bearerToken}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: "error",
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === "TimeoutError" ? `no answer within ${o.timeoutMs} ms` : (err.cause?.code ?? err.name);
    throw new Error(`POST failed: ${why}`);
  }
  await res.body?.cancel();
  if (!res.ok) throw new Error(`POST answered HTTP ${res.status}`);
}
