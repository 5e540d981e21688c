/**
 * A Discord sign-in in progress, for subscribers and the admin panel alike: the OAuth state is 256 random bits kept
 * in the session, single-use, valid for 10 minutes and compared in constant time; the callback's query is checked.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { equalSecret } from '../secure-compare.js';

export const STATE_TTL_MS = 10 * 60_000;

export interface PendingState {
  state: string;
  issuedAt: number;
}

export function newState(now: Date): PendingState {
  return { state: randomBytes(32).toString('base64url'), issuedAt: now.getTime() };
}

const CallbackQuery = z.object({
  state: z.string().max(200).optional(),
  code: z.string().max(500).optional(),
  error: z.string().max(200).optional(),
});

/** What Discord sent back; a query that does not fit counts as sending nothing. */
export function callbackParams(query: unknown): z.infer<typeof CallbackQuery> {
  const parsed = CallbackQuery.safeParse(query);
  return parsed.success ? parsed.data : {};
}

/** Why the state sent back is not the one issued, in words for the audit log; null when it is. */
export function stateProblem(pending: PendingState | undefined, given: string | undefined, now: Date): string | null {
  if (!pending) return 'no sign-in in progress';
  if (!given) return 'no state';
  const age = now.getTime() - pending.issuedAt;
  if (age > STATE_TTL_MS || age < 0) return 'state expired';
  return equalSecret(given, pending.state) ? null : 'state mismatch';
}
