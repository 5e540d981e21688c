import { timingSafeEqual } from 'node:crypto';

/** Compares two secrets (CSRF tokens, OAuth states) in time that does not depend on where they differ. */
export function equalSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
