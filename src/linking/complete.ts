/**
 * Completing a link, in one transaction: the token is spent, the subscription gets its Discord ID, and the jobs
 * that follow are queued: a reconcile for the new account, one for the account it replaces (whose roles go), and
 * the Ghost update. The new account's reconcile waits for the sign-in to add them to the server first (the
 * callback then asks for it at once); queued here, it is not lost if the process stops in between.
 */
import { GHOST_SYNC_JOB } from '../ghost/sync.js';
import { RECONCILE_JOB } from '../roles/jobs.js';
import type { Services } from '../services.js';
import type { TokenStatus } from './tokens.js';

/** Longer than a sign-in can spend adding the subscriber to the server (JOIN_PATIENCE_MS and Discord's waits). */
export const JOIN_GRACE_MS = 2 * 60_000;

export type LinkOutcome =
  | { status: 'linked'; subscriptionId: string }
  | { status: Exclude<TokenStatus, 'valid'> }
  | { status: 'inactive' };

export function completeLink(services: Pick<Services, 'tokens' | 'subscriptions' | 'jobs' | 'audit' | 'clock' | 'config'>, tokenHash: string, discordId: string): LinkOutcome {
  const { tokens, subscriptions, jobs, audit, clock, config } = services;
  const check = tokens.checkHash(tokenHash);
  if (check.status !== 'valid') return { status: check.status };
  const subscription = subscriptions.get(check.row!.subscription_id)!;
  if (subscription.status !== 'active') return { status: 'inactive' };
  tokens.markUsed(check.row!, discordId);
  const previous = subscription.discord_id;
  subscriptions.link(subscription.subscription_id, discordId, clock.now().toISOString());
  audit.record({
    actor: 'subscriber',
    action: 'link.completed',
    email: subscription.email,
    discordId,
    subscriptionId: subscription.subscription_id,
    details: previous && previous !== discordId ? { movedFrom: previous } : { tier: subscription.tier },
  });
  jobs.enqueue(RECONCILE_JOB, discordId, { discordId, cause: `linked subscription ${subscription.subscription_id}` }, { runAt: new Date(clock.now().getTime() + JOIN_GRACE_MS) });
  if (previous && previous !== discordId) {
    jobs.enqueue(RECONCILE_JOB, previous, { discordId: previous, cause: `subscription ${subscription.subscription_id} moved to another account` });
  }
  if (config.ghost) jobs.enqueue(GHOST_SYNC_JOB, subscription.subscription_id, { subscriptionId: subscription.subscription_id });
  return { status: 'linked', subscriptionId: subscription.subscription_id };
}
