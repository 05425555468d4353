// Both drivers raise errors carrying the server's SQLSTATE in `code` and the violated
// constraint's name in `constraint`; these read them without caring which driver threw.

interface SqlError {
  code?: unknown;
  constraint?: unknown;
}

export function sqlState(e: unknown): string | undefined {
  const code = (e as SqlError | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function violatedConstraint(e: unknown): string | undefined {
  const c = (e as SqlError | null)?.constraint;
  return typeof c === "string" ? c : undefined;
}

/** 23505; with `constraint`, only a violation of that one. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  return sqlState(e) === "23505" && (constraint === undefined || violatedConstraint(e) === constraint);
}

/** 23503: a row still referenced (delete) or a missing referenced row (insert). */
export function isForeignKeyViolation(e: unknown, constraint?: string): boolean {
  return sqlState(e) === "23503" && (constraint === undefined || violatedConstraint(e) === constraint);
}

/** 23514 */
export function isCheckViolation(e: unknown): boolean {
  return sqlState(e) === "23514";
}
