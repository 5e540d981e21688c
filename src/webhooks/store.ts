import type { Db } from '../db/open.js';

export type DedupeBy = 'webhook-id' | 'event-id' | 'body-sha256';
/** invalid: the payload is wrong in itself (final); refused: the configuration does not know what it names (a retry is evaluated again). */
export type Outcome = 'applied' | 'stale' | 'ignored' | 'invalid' | 'refused';

export interface WebhookEventRow {
  id: number;
  delivery_id: string;
  dedupe: DedupeBy;
  scheme: 'standard' | 'legacy';
  type: string | null;
  subscription_id: string | null;
  payload: string;
  received_at: string;
  occurred_at: string | null;
  outcome: Outcome;
  errors: string | null;
  /** When the payload and errors were removed (retention or erasure); the row keeps deduplicating. */
  pruned_at: string | null;
}

export const BODY_DEDUPE_MS = 24 * 3_600_000;

export interface WebhookEventStore {
  /** The earlier delivery this one repeats, if any. A refused one does not count: its retry is evaluated again. */
  findDuplicate(deliveryId: string, dedupe: DedupeBy, now: Date): WebhookEventRow | undefined;
  insert(row: Omit<WebhookEventRow, 'id' | 'pruned_at'>): number;
  recent(limit?: number, outcome?: Outcome): WebhookEventRow[];
  countSince(outcome: Outcome, since: Date): number;
  /** The newest delivery about this subscription. */
  latestFor(subscriptionId: string): WebhookEventRow | undefined;
}

export function createWebhookEventStore(db: Db): WebhookEventStore {
  const byId = db.prepare(`SELECT * FROM webhook_events WHERE delivery_id = ? AND dedupe <> 'body-sha256' AND outcome <> 'refused'`);
  const byBody = db.prepare(`SELECT * FROM webhook_events WHERE delivery_id = ? AND dedupe = 'body-sha256' AND received_at > ?
    AND outcome <> 'refused' ORDER BY received_at DESC LIMIT 1`);
  const insert = db.prepare(`INSERT INTO webhook_events
    (delivery_id, dedupe, scheme, type, subscription_id, payload, received_at, occurred_at, outcome, errors)
    VALUES (@delivery_id, @dedupe, @scheme, @type, @subscription_id, @payload, @received_at, @occurred_at, @outcome, @errors)`);
  const recent = db.prepare(`SELECT * FROM webhook_events WHERE (@outcome IS NULL OR outcome = @outcome) ORDER BY id DESC LIMIT @limit`);
  const countSince = db.prepare(`SELECT COUNT(*) FROM webhook_events WHERE outcome = ? AND received_at >= ?`).pluck();
  const latestFor = db.prepare(`SELECT * FROM webhook_events WHERE subscription_id = ? ORDER BY received_at DESC, id DESC LIMIT 1`);
  return {
    findDuplicate(deliveryId, dedupe, now) {
      if (dedupe === 'body-sha256') {
        return byBody.get(deliveryId, new Date(now.getTime() - BODY_DEDUPE_MS).toISOString()) as WebhookEventRow | undefined;
      }
      return byId.get(deliveryId) as WebhookEventRow | undefined;
    },
    insert: (row) => Number(insert.run(row).lastInsertRowid),
    recent: (limit = 50, outcome) => recent.all({ limit, outcome: outcome ?? null }) as WebhookEventRow[],
    latestFor: (subscriptionId) => latestFor.get(subscriptionId) as WebhookEventRow | undefined,
    countSince: (outcome, since) => countSince.get(outcome, since.toISOString()) as number,
  };
}
