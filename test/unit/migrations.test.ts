import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { migrate, openDatabase } from '../../src/db/open.js';
import { migrations } from '../../src/db/migrations.js';
import { tempDir } from '../support/config.js';

test('migration 3 keeps every delivery and index, allows the outcome "refused", and backfills the order mark', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'arbiter.db'), migrations.filter((m) => m.version <= 2));
  try {
    const insertEvent = db.prepare(`INSERT INTO webhook_events (delivery_id, dedupe, scheme, type, subscription_id, payload, received_at, occurred_at, outcome, errors)
      VALUES (@id, @dedupe, 'standard', 'subscription.created', @sub, '{}', '2026-01-05T00:00:00.000Z', @occurred, @outcome, NULL)`);
    insertEvent.run({ id: 'msg_1', dedupe: 'webhook-id', sub: 'sub_a', occurred: '2026-01-01T00:00:00.000Z', outcome: 'applied' });
    insertEvent.run({ id: 'msg_2', dedupe: 'webhook-id', sub: 'sub_a', occurred: '2026-01-03T00:00:00.000Z', outcome: 'applied' });
    insertEvent.run({ id: 'msg_3', dedupe: 'webhook-id', sub: 'sub_a', occurred: '2026-01-04T00:00:00.000Z', outcome: 'stale' });
    insertEvent.run({ id: 'msg_4', dedupe: 'webhook-id', sub: 'sub_b', occurred: null, outcome: 'applied' });
    insertEvent.run({ id: 'sha256:x', dedupe: 'body-sha256', sub: null, occurred: null, outcome: 'invalid' });
    const insertSub = db.prepare(`INSERT INTO subscriptions (subscription_id, email, tier, status, last_event_at, created_at, updated_at)
      VALUES (?, 'a@example.com', 'awakened', 'active', '2026-01-03T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-03T00:00:00.000Z')`);
    insertSub.run('sub_a');
    insertSub.run('sub_b');
    const before = db.prepare('SELECT * FROM webhook_events ORDER BY id').all();

    assert.deepEqual(migrate(db, migrations).includes(3), true);
    const after = db.prepare('SELECT * FROM webhook_events ORDER BY id').all() as { pruned_at?: string | null }[];
    // Migration 8 adds pruned_at, empty on every row.
    assert.deepEqual(after.map(({ pruned_at: prunedAt, ...row }) => (assert.equal(prunedAt, null), row)), before);
    const indexes = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'webhook_events' AND sql IS NOT NULL ORDER BY name`).pluck().all();
    assert.deepEqual(indexes, ['webhook_events_body', 'webhook_events_delivery', 'webhook_events_outcome', 'webhook_events_subscription', 'webhook_events_unpruned']);
    const mark = db.prepare('SELECT last_occurred_at FROM subscriptions WHERE subscription_id = ?').pluck();
    assert.equal(mark.get('sub_a'), '2026-01-03T00:00:00.000Z', 'the newest applied occurred_at; a stale one does not count');
    assert.equal(mark.get('sub_b'), null);

    // A refused delivery may come again; any other outcome claims its id.
    insertEvent.run({ id: 'msg_5', dedupe: 'webhook-id', sub: 'sub_c', occurred: null, outcome: 'refused' });
    insertEvent.run({ id: 'msg_5', dedupe: 'webhook-id', sub: 'sub_c', occurred: null, outcome: 'refused' });
    insertEvent.run({ id: 'msg_5', dedupe: 'webhook-id', sub: 'sub_c', occurred: null, outcome: 'applied' });
    assert.throws(() => insertEvent.run({ id: 'msg_5', dedupe: 'webhook-id', sub: 'sub_c', occurred: null, outcome: 'stale' }), /UNIQUE/);
    assert.throws(() => insertEvent.run({ id: 'msg_6', dedupe: 'webhook-id', sub: 'sub_c', occurred: null, outcome: 'lost' }), /CHECK/);
  } finally {
    db.close();
    dir.remove();
  }
});
