/**
 * A person's standing as other apps see it: their active tiers, one subscription status, and the managed roles
 * they should hold with why. Read from the database alone (the desired state), never from Discord, so an app
 * asking is cheap and answers even while Discord is down. The OpenID Connect claims and /api/v1 both use it.
 */
import type { RoleGrant } from '../roles/grants.js';
import { explainRoles } from '../roles/provenance.js';
import type { Services } from '../services.js';
import type { Subscription } from '../subscriptions/store.js';

export type SubscriptionStatus = Subscription['status'] | 'none';

export interface Standing {
  discordId: string;
  /** Tiers of active subscriptions, sorted, each once. */
  tiers: string[];
  /** active if any subscription is; else suspended if any is; else cancelled; none without a subscription. */
  subscriptionStatus: SubscriptionStatus;
  /** Managed role IDs they should hold, sorted, each with the sentences that explain it. */
  roles: { roleId: string; reasons: string[] }[];
}

const STATUS_ORDER: Subscription['status'][] = ['active', 'suspended', 'cancelled'];

export function standingOf(services: Pick<Services, 'subscriptions' | 'grants' | 'config'>, discordId: string): Standing {
  return standingFrom(discordId, services.subscriptions.byDiscordId(discordId), services.grants.active(discordId), services.config.tiers);
}

/** The same from rows already read: their subscriptions and the grants and blocks in force. */
export function standingFrom(
  discordId: string,
  subscriptions: readonly Subscription[],
  grants: readonly RoleGrant[],
  tiers: Readonly<Record<string, readonly string[]>>,
): Standing {
  const lines = explainRoles({ subscriptions, grants, tiers, actual: null, roleName: () => undefined });
  return {
    discordId,
    tiers: [...new Set(subscriptions.filter((s) => s.status === 'active').map((s) => s.tier))].sort(),
    subscriptionStatus: STATUS_ORDER.find((status) => subscriptions.some((s) => s.status === status)) ?? 'none',
    roles: lines
      .filter((line) => line.managed && line.shouldHold)
      .map((line) => ({ roleId: line.roleId, reasons: line.reasons }))
      .sort((a, b) => a.roleId.localeCompare(b.roleId)),
  };
}
