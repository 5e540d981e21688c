/** Finding a subscriber by email (or part of it), name, Discord ID or subscription ID. */
import type { Services } from '../services.js';
import type { Subscription } from '../subscriptions/store.js';

export const SEARCH_LIMIT = 50;

/** Where the subscriber's link stands, in words an admin uses. */
export type LinkState = 'linked' | 'none sent' | 'sent' | 'expired' | 'used' | 'replaced' | 'stopped (not active)';

export interface SearchHit {
  subscription: Subscription;
  link: { state: LinkState; at: string | null };
  lastEvent: { type: string | null; at: string; outcome: string } | null;
}

export function linkState(services: Pick<Services, 'tokens' | 'clock'>, subscription: Subscription): SearchHit['link'] {
  if (subscription.discord_id) return { state: 'linked', at: subscription.linked_at };
  const token = services.tokens.newest(subscription.subscription_id);
  if (!token) return { state: 'none sent', at: null };
  if (token.used_at) return { state: 'used', at: token.used_at };
  if (token.revoked_at) return { state: token.revoked_reason === 'inactive' ? 'stopped (not active)' : 'replaced', at: token.revoked_at };
  if (token.expires_at <= services.clock.now().toISOString()) return { state: 'expired', at: token.expires_at };
  return { state: 'sent', at: token.created_at };
}

export function searchMembers(services: Pick<Services, 'subscriptions' | 'tokens' | 'clock' | 'webhookEvents'>, query: string): SearchHit[] {
  const q = query.trim();
  if (q === '') return [];
  return services.subscriptions.search(q, SEARCH_LIMIT).map((subscription) => {
    const last = services.webhookEvents.latestFor(subscription.subscription_id);
    return {
      subscription,
      link: linkState(services, subscription),
      lastEvent: last ? { type: last.type, at: last.received_at, outcome: last.outcome } : null,
    };
  });
}
