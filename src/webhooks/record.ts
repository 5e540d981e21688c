/**
 * Recording a verified delivery: deduplication, validation against roles.json, applying the event, and the row in
 * webhook_events. Runs inside one transaction (the commit queue's), so a delivery is answered only once all of it
 * is on disk.
 */
import { createHash } from 'node:crypto';
import { ArbiterError, errorBody } from '../errors.js';
import type { Services } from '../services.js';
import { applyEvent } from './apply.js';
import { orderTime } from './transition.js';
import { SETS_TIER, tierOf, type ParsedBody } from './payload.js';
import type { Verification } from './signature.js';
import type { DedupeBy, Outcome } from './store.js';

export interface Delivery {
  verified: Verification & { ok: true };
  parsed: Exclude<ParsedBody, { kind: 'malformed' }>;
  body: Buffer;
  receivedAt: Date;
}

export interface DeliveryAnswer {
  status: 200 | 422;
  body: unknown;
  outcome: Outcome | 'duplicate';
  deliveryId: string;
  type: string | null;
}

/** Which earlier delivery this one would repeat: Standard Webhooks by webhook-id, legacy by event_id, else the body. */
function deliveryKey({ verified, parsed, body }: Delivery): { id: string; dedupe: DedupeBy } {
  if (verified.scheme === 'standard') return { id: verified.webhookId, dedupe: 'webhook-id' };
  const eventId = parsed.value.event_id;
  if (typeof eventId === 'string' && eventId.length > 0) return { id: `event:${eventId}`, dedupe: 'event-id' };
  return { id: `sha256:${createHash('sha256').update(body).digest('hex')}`, dedupe: 'body-sha256' };
}

/**
 * Every problem at once. The payload's own problems are final; what only the configuration does not know (a tier
 * missing from roles.json) may be fixed by an admin, so a retry of that delivery is evaluated again.
 */
function problems(services: Pick<Services, 'config'>, parsed: Delivery['parsed']): { own: string[]; configuration: string[] } {
  if (parsed.kind === 'unknown') return { own: [], configuration: [] };
  const own = parsed.kind === 'invalid' ? parsed.errors : [];
  const type = parsed.kind === 'event' ? parsed.event.event : parsed.eventType;
  const tier = tierOf(parsed.value);
  if (type === null || !SETS_TIER.has(type) || tier === undefined || services.config.tiers[tier]) return { own, configuration: [] };
  return { own, configuration: [`tier: "${tier}" is not a tier in roles.json (known: ${Object.keys(services.config.tiers).join(', ')})`] };
}

const REFUSAL_MESSAGES: Record<'invalid' | 'refused', string> = {
  invalid: 'the payload is signed but not valid; it was kept for admins to see',
  refused: 'the payload names what the configuration does not know; it was kept for admins to see, and a retry is evaluated again',
};

function invalidBody(outcome: 'invalid' | 'refused', errors: string[]) {
  return errorBody(new ArbiterError('webhook_invalid', REFUSAL_MESSAGES[outcome], { details: errors }));
}

export function recordDelivery(services: Services, delivery: Delivery): DeliveryAnswer {
  const { parsed } = delivery;
  const key = deliveryKey(delivery);
  const type = parsed.kind === 'event' ? parsed.event.event : parsed.eventType;
  const base = { deliveryId: key.id, type };

  const earlier = services.webhookEvents.findDuplicate(key.id, key.dedupe, delivery.receivedAt);
  if (earlier) {
    return earlier.outcome === 'invalid'
      ? { ...base, status: 422, outcome: 'duplicate', body: invalidBody('invalid', JSON.parse(earlier.errors ?? '[]') as string[]) }
      : { ...base, status: 200, outcome: 'duplicate', body: { status: 'duplicate' } };
  }

  const { own, configuration } = problems(services, parsed);
  const errors = [...own, ...configuration];
  const receivedAt = delivery.receivedAt.toISOString();
  const event = parsed.kind === 'event' ? parsed.event : undefined;
  // Only occurred_at orders events: a webhook-timestamp or an arrival time may be a retry's, long after the event.
  const order = orderTime(event?.occurred_at, delivery.receivedAt);
  let outcome: Outcome;
  if (own.length > 0) outcome = 'invalid';
  else if (configuration.length > 0) outcome = 'refused';
  else if (!event) outcome = 'ignored';
  else outcome = applyEvent(services, event, order, receivedAt);

  const subscriptionId = parsed.value.subscription_id;
  services.webhookEvents.insert({
    delivery_id: key.id,
    dedupe: key.dedupe,
    scheme: delivery.verified.scheme,
    type,
    subscription_id: typeof subscriptionId === 'string' ? subscriptionId.slice(0, 200) : null,
    payload: delivery.body.toString('utf8'),
    received_at: receivedAt,
    occurred_at: order.at,
    outcome,
    errors: errors.length > 0 ? JSON.stringify(errors) : null,
  });
  if (outcome === 'invalid' || outcome === 'refused') return { ...base, status: 422, outcome, body: invalidBody(outcome, errors) };
  return { ...base, status: 200, outcome, body: { status: outcome === 'ignored' ? 'ignored' : 'accepted' } };
}
