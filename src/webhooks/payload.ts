import { z } from 'zod';

export const EVENT_TYPES = [
  'subscription.created',
  'subscription.upgraded',
  'subscription.downgraded',
  'subscription.cancelled',
  'subscription.suspended',
  'subscription.resumed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events that name the tier the subscription is on from now on. */
export const SETS_TIER: ReadonlySet<EventType> = new Set([
  'subscription.created',
  'subscription.upgraded',
  'subscription.downgraded',
  'subscription.resumed',
]);

// Control characters never belong in a name or id; they are refused rather than silently kept.
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters');

export const BillingEvent = z.object({
  event: z.enum(EVENT_TYPES),
  customer_email: z.email('must be an email address').max(254).transform((e) => e.toLowerCase()),
  customer_name: text(200).optional().default(''),
  tier: text(64).min(1, 'is required').transform((t) => t.toLowerCase()),
  subscription_id: text(200).min(1, 'is required'),
  event_id: text(200).min(1).optional(),
  occurred_at: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z' }).optional(),
});
export type BillingEvent = z.infer<typeof BillingEvent>;

/** Every variant but 'malformed' keeps the body's JSON object as `value`. */
export type ParsedBody =
  | { kind: 'malformed'; message: string }
  | { kind: 'unknown'; eventType: string; value: Record<string, unknown> }
  | { kind: 'invalid'; eventType: EventType | null; errors: string[]; value: Record<string, unknown> }
  | { kind: 'event'; event: BillingEvent; value: Record<string, unknown> };

export function parseBody(raw: Buffer): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return { kind: 'malformed', message: 'body is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'malformed', message: 'body must be a JSON object' };
  }
  const record = value as Record<string, unknown>;
  const eventType = typeof record.event === 'string' ? record.event : null;
  if (eventType !== null && !(EVENT_TYPES as readonly string[]).includes(eventType)) {
    return { kind: 'unknown', eventType, value: record };
  }
  const parsed = BillingEvent.safeParse(record);
  if (!parsed.success) {
    return {
      kind: 'invalid',
      eventType: eventType as EventType | null,
      value: record,
      errors: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`),
    };
  }
  return { kind: 'event', event: parsed.data, value: record };
}

/** The tier a body names, as the schema reads it, even when other fields are invalid; undefined when it names none. */
export function tierOf(value: Record<string, unknown>): string | undefined {
  const tier = BillingEvent.shape.tier.safeParse(value.tier);
  return tier.success ? tier.data : undefined;
}
