/**
 * What a billing event does to a subscription. Runs inside the transaction that records the delivery, so the
 * state change, its audit entry and the jobs it needs commit together or not at all.
 */
import type { AuditLog } from '../audit/log.js';
import type { Config } from '../config.js';
import { GHOST_SYNC_JOB } from '../ghost/sync.js';
import type { JobQueue } from '../jobs/queue.js';
import { LINK_EMAIL_JOB } from '../linking/link-email.js';
import type { LinkTokens } from '../linking/tokens.js';
import { RECONCILE_JOB } from '../roles/jobs.js';
import type { Subscription, SubscriptionStore } from '../subscriptions/store.js';
import type { BillingEvent } from './payload.js';
import { transition, type Current, type OrderTime } from './transition.js';

export interface ApplyDeps {
  config: Pick<Config, 'ghost'>;
  subscriptions: SubscriptionStore;
  tokens: LinkTokens;
  jobs: JobQueue;
  audit: AuditLog;
}

const current = (s: Subscription): Current => ({
  status: s.status,
  tier: s.tier,
  email: s.email,
  linked: s.discord_id !== null,
  lastOccurredAt: s.last_occurred_at,
});

/** Returns 'stale' when the event changes nothing: the state already says more than it (see transition.ts). */
export function applyEvent(deps: ApplyDeps, event: BillingEvent, order: OrderTime, now: string): 'applied' | 'stale' {
  const before = deps.subscriptions.get(event.subscription_id);
  const next = transition(before && current(before), { type: event.event, tier: event.tier, email: event.customer_email, occurredAt: order.at });
  // An occurred_at too far ahead was clamped: the audit keeps what was sent.
  const clamped = order.clampedFrom ? { occurredAt: order.at, clampedFrom: order.clampedFrom } : {};
  if (next.outcome === 'stale') {
    deps.audit.record({
      actor: 'webhook',
      action: 'subscription.stale_event',
      email: event.customer_email,
      subscriptionId: event.subscription_id,
      details: { event: event.event, occurredAt: order.at, ...clamped, why: next.why },
    });
    return 'stale';
  }

  const { status, tier } = next;
  deps.subscriptions.save({
    subscription_id: event.subscription_id,
    email: event.customer_email,
    name: event.customer_name || before?.name || '',
    tier,
    status,
    last_event_at: order.at ?? now,
    last_occurred_at: next.lastOccurredAt,
    updated_at: now,
  });
  deps.audit.record({
    actor: 'webhook',
    action: `subscription.${event.event.slice('subscription.'.length)}`,
    email: event.customer_email,
    discordId: before?.discord_id ?? null,
    subscriptionId: event.subscription_id,
    details: {
      tier: before && before.tier !== tier ? { from: before.tier, to: tier } : tier,
      status: before && before.status !== status ? { from: before.status, to: status } : status,
      ...(before ? {} : { firstSeen: true }),
      ...clamped,
    },
  });

  const linkedTo = before?.discord_id ?? null;
  if (next.effects.reconcile && linkedTo) deps.jobs.enqueue(RECONCILE_JOB, linkedTo, { discordId: linkedTo, cause: event.event });
  // A new email may be another Ghost member: that one gets the Discord ID too.
  if (next.effects.ghostSync && deps.config.ghost) {
    deps.jobs.enqueue(GHOST_SYNC_JOB, event.subscription_id, { subscriptionId: event.subscription_id });
  }
  if (next.effects.emailLink) deps.jobs.enqueue(LINK_EMAIL_JOB, event.subscription_id, { subscriptionId: event.subscription_id });
  if (status !== 'active') deps.tokens.revokeAll(event.subscription_id, 'inactive');
  return 'applied';
}
