import type { ChildProcess } from "node:child_process";
import net from "node:net";

// What the test servers (postgres, sshd, n8n) share: a free loopback port, a child stopped
// with a grace period, and a start retried when another process grabbed the probed port.

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(proc: ChildProcess | undefined, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await gone;
  clearTimeout(timer);
}

/**
 * Another process may take the probed port before the server binds it: `launch` on a fresh
 * port up to `attempts` times, `halt` between tries, `cleanup` before giving up.
 */
export async function launchOnFreePort(launch: (port: number) => Promise<void>, halt: () => Promise<void>, cleanup: () => Promise<void>, attempts = 3): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await launch(port);
      return port;
    } catch (e) {
      await halt();
      if (attempt >= attempts) {
        await cleanup();
        throw e;
      }
    }
  }
}
