import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUTURE_TOLERANCE_MS, orderTime, transition, type Current, type Incoming } from '../../src/webhooks/transition.js';
import type { EventType } from '../../src/webhooks/payload.js';
import type { SubscriptionStatus } from '../../src/subscriptions/store.js';

const current = (status: SubscriptionStatus, more: Partial<Current> = {}): Current => ({
  status,
  tier: 'awakened',
  email: 'ada@example.com',
  linked: false,
  lastOccurredAt: null,
  ...more,
});
const incoming = (type: EventType, more: Partial<Incoming> = {}): Incoming => ({
  type,
  tier: 'ascended',
  email: 'ada@example.com',
  occurredAt: null,
  ...more,
});
const statusAfter = (before: Current | undefined, type: EventType) => {
  const t = transition(before, incoming(type));
  return t.outcome === 'applied' ? t.status : 'stale';
};

test('the state table: state x event -> new state, whatever order the events arrive in', () => {
  const table: Record<'new' | SubscriptionStatus, Record<string, string>> = {
    new: { created: 'active', upgraded: 'active', downgraded: 'active', suspended: 'suspended', cancelled: 'cancelled', resumed: 'active' },
    active: { created: 'stale', upgraded: 'active', downgraded: 'active', suspended: 'suspended', cancelled: 'cancelled', resumed: 'active' },
    suspended: { created: 'stale', upgraded: 'suspended', downgraded: 'suspended', suspended: 'suspended', cancelled: 'cancelled', resumed: 'active' },
    cancelled: { created: 'stale', upgraded: 'cancelled', downgraded: 'cancelled', suspended: 'stale', cancelled: 'cancelled', resumed: 'active' },
  };
  for (const [state, row] of Object.entries(table)) {
    for (const [event, expected] of Object.entries(row)) {
      const before = state === 'new' ? undefined : current(state as SubscriptionStatus);
      assert.equal(statusAfter(before, `subscription.${event}` as EventType), expected, `${state} x ${event}`);
    }
  }
});

test('created only creates: a known subscription in any state is not re-activated by it, even with a newer occurred_at', () => {
  for (const status of ['active', 'suspended', 'cancelled'] as const) {
    const t = transition(current(status, { lastOccurredAt: '2026-01-01T00:00:00.000Z' }), incoming('subscription.created', { occurredAt: '2026-02-01T00:00:00.000Z' }));
    assert.equal(t.outcome, 'stale', status);
  }
});

test('a cancel or suspension of an unknown subscription is kept as a tombstone that a late created cannot activate', () => {
  for (const type of ['subscription.cancelled', 'subscription.suspended'] as const) {
    const tombstone = transition(undefined, incoming(type));
    assert.equal(tombstone.outcome, 'applied');
    if (tombstone.outcome !== 'applied') continue;
    assert.deepEqual(tombstone.effects, { emailLink: false, reconcile: false, ghostSync: false });
    assert.equal(tombstone.tier, 'ascended', 'the tombstone keeps the tier the event named');
    assert.equal(transition(current(tombstone.status), incoming('subscription.created')).outcome, 'stale');
  }
});

test('what is emailed and reconciled', () => {
  const effects = (before: Current | undefined, event: Incoming) => {
    const t = transition(before, event);
    assert.equal(t.outcome, 'applied');
    return t.outcome === 'applied' ? t.effects : undefined;
  };
  // A new subscription, or one made active again, gets a link when nobody has linked it yet.
  assert.equal(effects(undefined, incoming('subscription.created'))!.emailLink, true);
  assert.equal(effects(undefined, incoming('subscription.upgraded'))!.emailLink, true);
  assert.equal(effects(current('suspended'), incoming('subscription.resumed'))!.emailLink, true);
  assert.equal(effects(current('cancelled'), incoming('subscription.resumed'))!.emailLink, true);
  // A tier change of a pending subscription keeps the link it has; a resume of an active one sends nothing.
  assert.equal(effects(current('active'), incoming('subscription.upgraded'))!.emailLink, false);
  assert.equal(effects(current('active'), incoming('subscription.resumed'))!.emailLink, false);
  // A linked subscription is reconciled instead of emailed.
  assert.deepEqual(effects(current('suspended', { linked: true }), incoming('subscription.resumed')), { emailLink: false, reconcile: true, ghostSync: false });
  assert.deepEqual(effects(current('active', { linked: true }), incoming('subscription.cancelled')), { emailLink: false, reconcile: true, ghostSync: false });
  // A new email on a linked subscription also goes to Ghost.
  assert.equal(effects(current('active', { linked: true }), incoming('subscription.upgraded', { email: 'new@example.com' }))!.ghostSync, true);
  assert.equal(effects(current('active'), incoming('subscription.upgraded', { email: 'new@example.com' }))!.ghostSync, false);
});

test('tiers: events that name the tier set it; suspend and cancel keep the known one', () => {
  const after = (before: Current | undefined, type: EventType) => {
    const t = transition(before, incoming(type, { tier: 'gold' }));
    return t.outcome === 'applied' ? t.tier : undefined;
  };
  assert.equal(after(current('active'), 'subscription.upgraded'), 'gold');
  assert.equal(after(current('cancelled'), 'subscription.downgraded'), 'gold');
  assert.equal(after(current('active'), 'subscription.cancelled'), 'awakened');
  assert.equal(after(current('suspended'), 'subscription.resumed'), 'gold');
});

test('occurred_at orders events that carry it; an older one is stale whatever its type', () => {
  const at = '2026-01-02T00:00:00.000Z';
  const before = current('cancelled', { lastOccurredAt: at });
  const older = transition(before, incoming('subscription.resumed', { occurredAt: '2026-01-01T00:00:00.000Z' }));
  assert.equal(older.outcome, 'stale');
  const newer = transition(before, incoming('subscription.resumed', { occurredAt: '2026-01-03T00:00:00.000Z' }));
  assert.deepEqual(newer.outcome === 'applied' && [newer.status, newer.lastOccurredAt], ['active', '2026-01-03T00:00:00.000Z']);
  const same = transition(current('active', { lastOccurredAt: at }), incoming('subscription.cancelled', { occurredAt: at }));
  assert.equal(same.outcome, 'applied', 'a tie is applied in arrival order');
});

test('an event without occurred_at applies in arrival order and leaves the order mark where it was', () => {
  const at = '2026-01-02T00:00:00.000Z';
  const t = transition(current('active', { lastOccurredAt: at }), incoming('subscription.cancelled'));
  assert.deepEqual(t.outcome === 'applied' && [t.status, t.lastOccurredAt], ['cancelled', at]);
  const first = transition(current('active'), incoming('subscription.suspended', { occurredAt: at }));
  assert.equal(first.outcome === 'applied' && first.lastOccurredAt, at, 'the first occurred_at sets the mark');
});

test('order time: occurred_at as given up to 5 minutes ahead of the clock, clamped to the arrival beyond', () => {
  const received = new Date('2026-06-01T12:00:00.000Z');
  assert.deepEqual(orderTime(undefined, received), { at: null });
  assert.deepEqual(orderTime('2026-06-01T11:00:00Z', received), { at: '2026-06-01T11:00:00.000Z' });
  assert.deepEqual(orderTime('2026-06-01T14:00:00+02:00', received), { at: '2026-06-01T12:00:00.000Z' });
  const edge = new Date(received.getTime() + FUTURE_TOLERANCE_MS).toISOString();
  assert.deepEqual(orderTime(edge, received), { at: edge });
  const beyond = new Date(received.getTime() + FUTURE_TOLERANCE_MS + 1000).toISOString();
  assert.deepEqual(orderTime(beyond, received), { at: received.toISOString(), clampedFrom: beyond });
  assert.deepEqual(orderTime('2099-01-01T00:00:00Z', received), { at: received.toISOString(), clampedFrom: '2099-01-01T00:00:00.000Z' });
});
