// One error hierarchy for the whole tool. The entry point prints `message` (one line) and
// `hint` (what to run next), then exits with `exitCode`. Nothing else calls process.exit.

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  partial: 3,
  busy: 75,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface BtwErrorOptions {
  hint?: string;
  cause?: unknown;
  /** extra machine-readable data for --json error output; never secrets */
  details?: Record<string, unknown>;
}

export class BtwError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, exitCode: ExitCodeValue, opts: BtwErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** Bad flags, names, arguments: exit 2, nothing changed. */
export class UsageError extends BtwError {
  constructor(message: string, opts: BtwErrorOptions & { code?: string } = {}) {
    super(opts.code ?? "usage", message, ExitCode.usage, opts);
  }
}

/** The configuration file or environment is invalid: exit 2. */
export class ConfigError extends BtwError {
  constructor(message: string, opts: BtwErrorOptions & { code?: string } = {}) {
    super(opts.code ?? "config", message, ExitCode.usage, opts);
  }
}

/** A named thing does not exist (server, tenant, backup): exit 2 — it is bad input. */
export class NotFoundError extends BtwError {
  constructor(kind: string, name: string, opts: BtwErrorOptions = {}) {
    super(`${kind}-not-found`, `${kind} '${name}' does not exist`, ExitCode.usage, opts);
  }
}

/** The request conflicts with the state (duplicate name, server still holds tenants): exit 2. */
export class ConflictError extends BtwError {
  constructor(message: string, opts: BtwErrorOptions & { code?: string } = {}) {
    super(opts.code ?? "conflict", message, ExitCode.usage, opts);
  }
}

/** Another btw holds the lock we need: exit 75 (EX_TEMPFAIL), retry later. */
export class BusyError extends BtwError {
  constructor(message: string, opts: BtwErrorOptions = {}) {
    super("busy", message, ExitCode.busy, opts);
  }
}

/** The operation was attempted and failed (unreachable host, remote error): exit 1. */
export class OperationError extends BtwError {
  constructor(message: string, opts: BtwErrorOptions & { code?: string } = {}) {
    super(opts.code ?? "failed", message, ExitCode.failed, opts);
  }
}

/** A bulk command finished but some targets failed: exit 3. */
export class PartialFailureError extends BtwError {
  constructor(message: string, opts: BtwErrorOptions = {}) {
    super("partial", message, ExitCode.partial, opts);
  }
}

/**
 * A lock this process held is gone (its state connection died): the holder stops at its next
 * step instead of going on unprotected. Exit 1; re-running the command resumes from its journal.
 */
export class LockLostError extends OperationError {
  constructor(what: string) {
    super(`lost ${what}: the connection to the state database that held it ended; stopped before the next step`, {
      code: "lock-lost",
      hint: "check the state database, then re-run the same command: it resumes from its journal",
    });
  }
}

export function isBtwError(e: unknown): e is BtwError {
  return e instanceof BtwError;
}
