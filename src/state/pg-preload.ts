// Loading `pg` costs every command 40–60 ms for nothing on Node 20: at load it asks whether
// it runs in a Cloudflare Worker, and with no global `navigator` (Node < 21) it answers by
// constructing a `Response`, which loads Node's bundled undici. A `navigator` present for the
// duration of the import answers the question first; it is removed again right after.

export async function preloadPg(): Promise<void> {
  if ("navigator" in globalThis) {
    await import("pg");
    return;
  }
  Object.defineProperty(globalThis, "navigator", {
    value: { userAgent: `Node.js/${process.versions.node}` },
    configurable: true,
    writable: true,
  });
  try {
    await import("pg");
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator;
  }
}
