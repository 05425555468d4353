// The files of the embedded state store under $BTW_HOME/state (the directory openDb's
// dataDir names). The server listens on a Unix socket only: its port number just names the
// socket file, so many stores on one host never collide and nothing is reachable over TCP.

import path from "node:path";

export interface StoreLayout {
  /** $BTW_HOME/state (0700, the operator's) */
  dir: string;
  /** the PostgreSQL data directory; also holds the socket (.s.PGSQL.5432) */
  pgdata: string;
  /** where a client finds the socket */
  socketDir: string;
  port: number;
  /** the server's stderr (0600, opened by btw and handed to the server) */
  log: string;
  /** present while rows of a former PGlite store are still to be copied in; holds its path */
  importMarker: string;
  /** base of the start lock, `<dir>.start.lock`: outside dir, which a PGlite conversion renames */
  startLock: string;
}

export const EMBEDDED_PORT = 5432;

export function storeLayout(dataDir: string): StoreLayout {
  const dir = path.resolve(dataDir);
  const pgdata = path.join(dir, "pgdata");
  return {
    dir,
    pgdata,
    socketDir: pgdata,
    port: EMBEDDED_PORT,
    log: path.join(dir, "server.log"),
    importMarker: path.join(dir, "import-from"),
    startLock: `${dir}.start`,
  };
}

export function socketPath(l: StoreLayout): string {
  return path.join(l.socketDir, `.s.PGSQL.${l.port}`);
}

/** node-postgres URL over the socket, superuser `postgres` (peer: only btw's own OS account is let in, access.ts). */
export function socketUrl(l: StoreLayout): string {
  return `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(l.socketDir)}`;
}
