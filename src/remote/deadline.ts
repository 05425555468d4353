import { OperationError, type BtwErrorOptions } from "../errors.js";

// Every call btw makes to something outside is bounded (issue 22 item 11): a hung dockerd or
// a half-open S3 socket must fail the call, not hold a restore, a migration or an upgrade —
// and with it the tenant's maintenance page and lock — forever. Two kinds of bound, one
// mechanism for both:
//  - a call that answers once (list, inspect, delete, an S3 request) gets a total deadline:
//    withDeadline aborts it through the AbortSignal it hands the call;
//  - a stream that runs as long as the data (a dump, an archive, an upload) gets a stall
//    deadline instead: watchStall fires when nothing moved for that long while the far side
//    was the one holding things up — never because our own consumer was slow.

export interface DeadlineErrorOptions extends BtwErrorOptions {
  code?: string;
  /** the btw server the call went to, when it went to one (a frozen server, not a hung store) */
  server?: string;
}

/** A call or stream that missed its deadline. One line naming what hung and where. */
export class DeadlineError extends OperationError {
  readonly server: string | undefined;

  constructor(message: string, opts: DeadlineErrorOptions = {}) {
    super(message, { ...opts, code: opts.code ?? "deadline" });
    this.server = opts.server;
  }
}

/** "45 s", "1.5 s", "200 ms": deadlines as messages print them. */
export function seconds(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

export interface DeadlineOptions {
  ms: number;
  /** the error when the deadline passes (its message says what hung, and where) */
  error: () => DeadlineError;
  /** an outer signal (an interrupt, a longer deadline): aborts the call too */
  signal?: AbortSignal;
}

/**
 * fn's result, or `error()` once `ms` have passed: fn's work is aborted through the signal it
 * gets (pass it on as the client's abortSignal), and the caller does not wait for it to
 * notice — a call stuck on a dead socket may never settle by itself.
 */
export async function withDeadline<T>(o: DeadlineOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onOuter = () => abort.abort(o.signal?.reason);
  if (o.signal?.aborted) onOuter();
  else o.signal?.addEventListener("abort", onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const missed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = o.error();
      abort.abort(e);
      reject(e);
    }, o.ms);
  });
  const work = fn(abort.signal);
  // whichever loses the race must not become an unhandled rejection
  work.catch(() => {});
  missed.catch(() => {});
  try {
    return await Promise.race([work, missed]);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", onOuter);
  }
}

export interface StallWatch {
  /** bytes moved: the far side is alive */
  progress(): void;
  stop(): void;
}

/**
 * Calls `onStall` once when `ms` pass with no progress() while `blocked()` says we are waiting
 * on the far side (for a source: we want data and none comes; for a sink: data waits and it
 * takes none). Time spent waiting on our own side does not count.
 */
export function watchStall(o: { ms: number; blocked: () => boolean; onStall: () => void }): StallWatch {
  let last = Date.now();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const now = Date.now();
    if (!o.blocked()) last = now;
    else if (now - last >= o.ms) {
      stop();
      o.onStall();
    }
  };
  const timer = setInterval(tick, Math.max(10, Math.min(1000, Math.floor(o.ms / 4))));
  // the stream's own socket keeps the process alive while it is waited on; a stream nobody
  // reads or closes any more must not
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return {
    progress: () => {
      last = Date.now();
    },
    stop,
  };
}
