/**
 * What a billing event does to a subscription, as pure functions of the subscription as it is and the event: the
 * rules the README's "Event order" section lists. Billing systems retry, so events arrive late and out of order, and
 * most carry no occurred_at. The rules therefore lean on what each event says by itself (a created never
 * re-activates, a cancel is kept even for a subscription not yet seen) and use occurred_at, when given, for the rest.
 */
import type { SubscriptionStatus } from '../subscriptions/store.js';
import { SETS_TIER, type EventType } from './payload.js';

/** The subscription as stored. */
export interface Current {
  status: SubscriptionStatus;
  tier: string;
  email: string;
  linked: boolean;
  /** The latest occurred_at of the events applied to it; null while none carried one. */
  lastOccurredAt: string | null;
}

export interface Incoming {
  type: EventType;
  tier: string;
  email: string;
  /** From orderTime: occurred_at, clamped to the arrival when it is ahead of Arbiter's clock. */
  occurredAt: string | null;
}

export interface Effects {
  /** Email a link: the subscription is newly active and nobody has linked it yet. */
  emailLink: boolean;
  /** Bring the linked account's roles in line. */
  reconcile: boolean;
  /** Write the Discord ID onto the Ghost member of a linked subscription's new email. */
  ghostSync: boolean;
}

export type Transition =
  | { outcome: 'applied'; status: SubscriptionStatus; tier: string; lastOccurredAt: string | null; effects: Effects }
  | { outcome: 'stale'; why: string };

type Event = 'created' | 'upgraded' | 'downgraded' | 'suspended' | 'cancelled' | 'resumed';

/** State x event -> new state; null: the event changes nothing (it is older than the state, whatever it arrived after). */
const NEXT: Record<'new' | SubscriptionStatus, Record<Event, SubscriptionStatus | null>> = {
  // A cancel or suspension of a subscription not seen yet is kept: a created arriving after it cannot activate it.
  new: { created: 'active', upgraded: 'active', downgraded: 'active', suspended: 'suspended', cancelled: 'cancelled', resumed: 'active' },
  // created only creates: any known subscription is older news than its own creation. Only resumed re-activates.
  active: { created: null, upgraded: 'active', downgraded: 'active', suspended: 'suspended', cancelled: 'cancelled', resumed: 'active' },
  suspended: { created: null, upgraded: 'suspended', downgraded: 'suspended', suspended: 'suspended', cancelled: 'cancelled', resumed: 'active' },
  // A cancelled subscription is never suspended after it: such a suspension is older than the cancel.
  cancelled: { created: null, upgraded: 'cancelled', downgraded: 'cancelled', suspended: null, cancelled: 'cancelled', resumed: 'active' },
};

const eventName = (type: EventType) => type.slice('subscription.'.length) as Event;

export function transition(before: Current | undefined, event: Incoming): Transition {
  if (before?.lastOccurredAt && event.occurredAt && event.occurredAt < before.lastOccurredAt) {
    return { outcome: 'stale', why: `occurred at ${event.occurredAt}, before the event of ${before.lastOccurredAt} that shaped the subscription` };
  }
  const status = NEXT[before?.status ?? 'new'][eventName(event.type)];
  if (status === null) {
    return { outcome: 'stale', why: `${event.type} does not change a subscription that is ${before!.status}` };
  }
  const linked = before?.linked ?? false;
  return {
    outcome: 'applied',
    status,
    tier: !before || SETS_TIER.has(event.type) ? event.tier : before.tier,
    lastOccurredAt: event.occurredAt ?? before?.lastOccurredAt ?? null,
    effects: {
      emailLink: status === 'active' && !linked && before?.status !== 'active',
      reconcile: linked,
      ghostSync: linked && before!.email !== event.email,
    },
  };
}

/** How far ahead of Arbiter's clock an occurred_at is still taken as given (the senders' clocks drift too). */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * The time that orders an event: its occurred_at. An event cannot have happened after it arrived, so one more than
 * FUTURE_TOLERANCE_MS ahead is clamped to the arrival; kept as given, it would make every later event look older.
 */
export interface OrderTime {
  at: string | null;
  /** The occurred_at as sent, when it was too far ahead to be taken as given. */
  clampedFrom?: string;
}

export function orderTime(occurredAt: string | undefined, receivedAt: Date): OrderTime {
  if (occurredAt === undefined) return { at: null };
  const at = new Date(occurredAt);
  if (at.getTime() - receivedAt.getTime() > FUTURE_TOLERANCE_MS) return { at: receivedAt.toISOString(), clampedFrom: at.toISOString() };
  return { at: at.toISOString() };
}
