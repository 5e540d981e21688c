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
import type { SubscriptionStatus, SubscriptionStore } from '../subscriptions/store.js';
import { SETS_TIER, type BillingEvent } from './payload.js';

export interface ApplyDeps {
  config: Pick<Config, 'ghost'>;
  subscriptions: SubscriptionStore;
  tokens: LinkTokens;
  jobs: JobQueue;
  audit: AuditLog;
}

const STATUS_AFTER: Record<BillingEvent['event'], SubscriptionStatus | 'keep'> = {
  'subscription.created': 'active',
  'subscription.upgraded': 'keep',
  'subscription.downgraded': 'keep',
  'subscription.cancelled': 'cancelled',
  'subscription.suspended': 'suspended',
  'subscription.resumed': 'active',
};

/** Returns 'stale' when a newer event already shaped this subscription: an older one never rolls it back. */
export function applyEvent(deps: ApplyDeps, event: BillingEvent, eventAt: string, now: string): 'applied' | 'stale' {
  const before = deps.subscriptions.get(event.subscription_id);
  if (before && eventAt < before.last_event_at) {
    deps.audit.record({
      actor: 'webhook',
      action: 'subscription.stale_event',
      email: event.customer_email,
      subscriptionId: event.subscription_id,
      details: { event: event.event, occurredAt: eventAt, newerAt: before.last_event_at },
    });
    return 'stale';
  }

  const wanted = STATUS_AFTER[event.event];
  const status: SubscriptionStatus = wanted === 'keep' ? before?.status ?? 'active' : wanted;
  const tier = SETS_TIER.has(event.event) || !before ? event.tier : before.tier;
  deps.subscriptions.save({
    subscription_id: event.subscription_id,
    email: event.customer_email,
    name: event.customer_name || before?.name || '',
    tier,
    status,
    last_event_at: eventAt,
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
    },
  });

  const linkedTo = before?.discord_id ?? null;
  if (linkedTo) {
    deps.jobs.enqueue(RECONCILE_JOB, linkedTo, { discordId: linkedTo, cause: event.event });
    // A new email may be another Ghost member: that one gets the Discord ID too.
    if (deps.config.ghost && before!.email !== event.customer_email) {
      deps.jobs.enqueue(GHOST_SYNC_JOB, event.subscription_id, { subscriptionId: event.subscription_id });
    }
  } else if (status === 'active') {
    // A new or re-activated subscription gets a link; a tier change of a pending one keeps the link it has.
    const needsLink = event.event === 'subscription.created' || event.event === 'subscription.resumed' || before?.status !== 'active';
    if (needsLink) deps.jobs.enqueue(LINK_EMAIL_JOB, event.subscription_id, { subscriptionId: event.subscription_id });
  }
  if (status !== 'active') deps.tokens.revokeAll(event.subscription_id, 'inactive');
  return 'applied';
}
