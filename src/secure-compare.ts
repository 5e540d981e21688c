import { createHash, timingSafeEqual } from 'node:crypto';

/** The hex SHA-256 of a secret: what is stored of link tokens, API keys and client secrets (all 256 random bits). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Compares two secrets (CSRF tokens, OAuth states) in time that does not depend on where they differ. */
export function equalSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
