// A tenant's generated secrets. The random source is a parameter (node:crypto's randomBytes
// in production, a seeded stub in tests) so this stays pure.
//
// Alphabet: [A-Za-z0-9]. Such values need no quoting in an env file, a URL, a Redis config
// line or a shell word, so no consumer can mangle them; 62 symbols × 32 chars ≈ 190 bits.

export type RandomBytes = (size: number) => Uint8Array;

export const SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** What every tenant secret must look like to be written into its stack (see env.ts). */
export const TENANT_SECRET_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

export interface TenantSecrets {
  postgresPassword: string;
  redisPassword: string;
  /** N8N_ENCRYPTION_KEY: losing it makes every stored n8n credential undecryptable */
  encryptionKey: string;
  /** n8n owner account; n8n requires 8–64 chars with a digit and an uppercase letter */
  ownerPassword: string;
}

export const SECRET_LENGTHS = {
  postgresPassword: 32,
  redisPassword: 32,
  encryptionKey: 48,
  ownerPassword: 24,
} as const satisfies Record<keyof TenantSecrets, number>;

/**
 * `length` characters drawn uniformly from `alphabet`: bytes at or above the largest
 * multiple of the alphabet size are discarded (no modulo bias).
 */
export function randomString(randomBytes: RandomBytes, length: number, alphabet: string = SECRET_ALPHABET): string {
  if (alphabet.length < 2 || alphabet.length > 256) throw new RangeError("alphabet must have 2–256 symbols");
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  for (let rounds = 0; out.length < length; rounds++) {
    if (rounds > 1000) throw new Error("the random source returns too few usable bytes");
    // Ask for exactly what is missing: every byte drawn is used or rejected, none wasted.
    for (const byte of randomBytes(length - out.length)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** n8n's owner password rule, plus a lowercase letter for good measure. */
export function isStrongOwnerPassword(password: string): boolean {
  return password.length >= 8 && password.length <= 64 && /[0-9]/.test(password) && /[A-Z]/.test(password) && /[a-z]/.test(password);
}

export function generateTenantSecrets(randomBytes: RandomBytes): TenantSecrets {
  const postgresPassword = randomString(randomBytes, SECRET_LENGTHS.postgresPassword);
  const redisPassword = randomString(randomBytes, SECRET_LENGTHS.redisPassword);
  const encryptionKey = randomString(randomBytes, SECRET_LENGTHS.encryptionKey);
  // A 24-char draw lacks a digit about 1.5% of the time: draw again rather than force
  // positions, which would make some characters predictable.
  for (let attempt = 0; attempt < 100; attempt++) {
    const ownerPassword = randomString(randomBytes, SECRET_LENGTHS.ownerPassword);
    if (isStrongOwnerPassword(ownerPassword)) return { postgresPassword, redisPassword, encryptionKey, ownerPassword };
  }
  throw new Error("the random source never produced a password with a digit, an uppercase and a lowercase letter");
}
