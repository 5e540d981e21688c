/**
 * Adding a subscriber to the server while they wait on the sign-in. Rate limits the headers announce are waited
 * inside the call; passing trouble (a 5xx, a timeout, a rate limit longer than that) is tried again for a short,
 * bounded time. If Discord still does not take them, the subscriber is told plainly and can join by invite: the
 * roles follow when they arrive.
 */
import type { DiscordApi } from '../discord/api.js';
import type { ArbiterError } from '../errors.js';

export const JOIN_PATIENCE_MS = 15_000;

export type JoinResult = { status: 'joined' | 'already' } | { status: 'failed'; busy: boolean; reason: string };

export async function joinServer(api: Pick<DiscordApi, 'joinGuild'>, userId: string, accessToken: string, patienceMs = JOIN_PATIENCE_MS): Promise<JoinResult> {
  const deadline = Date.now() + patienceMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return { status: await api.joinGuild(userId, accessToken) };
    } catch (err) {
      const e = err as ArbiterError;
      const waitMs = e.retryAfterMs ?? 250 * 2 ** (attempt - 1);
      if (!e.retryable || Date.now() + waitMs > deadline) return { status: 'failed', busy: e.retryable, reason: e.message };
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
