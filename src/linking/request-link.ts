/**
 * Asking for a new link on the form. Anyone can type anyone's address, and every link mailed revokes the one
 * before, so what a request can cause is bounded by rules read from the database (a restart resets nothing): no
 * new link for a subscription whose last one was issued less than RESEND_AFTER_MINUTES ago and still works, and at
 * most MAX_LINKS_PER_HOUR links to one address in an hour. A refused request changes nothing, so it cannot revoke
 * the link the subscriber has. The caller answers the same whatever happened, so the form tells nobody who
 * subscribes or who was refused.
 */
import type { Services } from '../services.js';
import { LINK_EMAIL_JOB } from './link-email.js';

export const RESEND_AFTER_MINUTES = 10;
export const MAX_LINKS_PER_HOUR = 3;

export interface LinkRequest {
  /** Subscriptions that get a new link. */
  queued: number;
  /** Active subscriptions of the address that do not, because of the limits. */
  refused: number;
}

/** Call inside a transaction. */
export function requestLink(services: Pick<Services, 'subscriptions' | 'tokens' | 'jobs' | 'audit' | 'clock'>, email: string): LinkRequest {
  const { subscriptions, tokens, jobs, audit, clock } = services;
  const now = clock.now().getTime();
  const recent = new Date(now - RESEND_AFTER_MINUTES * 60_000).toISOString();
  const allowance = Math.max(0, MAX_LINKS_PER_HOUR - tokens.issuedToEmailSince(email, new Date(now - 3_600_000)));
  const active = subscriptions.byEmail(email).filter((s) => s.status === 'active');
  const linkStillFresh = (subscriptionId: string) => {
    const newest = tokens.newestValid(subscriptionId);
    return newest !== undefined && newest.created_at > recent;
  };
  const due = active.filter((s) => !linkStillFresh(s.subscription_id)).slice(0, allowance);
  const refused = active.length - due.length;
  if (active.length > 0 && due.length === 0) return { queued: 0, refused };
  for (const s of due) jobs.enqueue(LINK_EMAIL_JOB, s.subscription_id, { subscriptionId: s.subscription_id });
  audit.record({ actor: 'subscriber', action: 'link.requested', email, details: { subscriptions: due.length, ...(refused > 0 ? { refused } : {}) } });
  return { queued: due.length, refused };
}
