/**
 * The statements behind the member page read one person's rows through an index: at millions of audit rows a pass
 * over the whole table costs seconds (bench/scale.ts measures it). Checked on the query plan of a real file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { auditListSql, createAuditLog, type AuditLog, type AuditRow } from '../../src/audit/log.js';
import { openDatabase, type Db } from '../../src/db/open.js';
import { createGrantStore, GRANT_HISTORY_SQL } from '../../src/roles/grants.js';
import { createSubscriptionStore, SEARCH_INDEXED_SQL, type SubscriptionStore } from '../../src/subscriptions/store.js';
import { tempDir, type TempDir } from '../support/config.js';

const plan = (db: Db, sql: string, params: unknown) =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as Record<string, unknown>) as { detail: string }[]).map((r) => r.detail);

describe('the audit history of one person or subscription', () => {
  let dir: TempDir;
  let db: Db;
  let audit: AuditLog;
  let rows: AuditRow[];
  const people = ['600000000000000001', '600000000000000002', '600000000000000003'];
  const actions = ['role.added', 'link.emailed', 'subscription.created'];

  before(() => {
    dir = tempDir();
    db = openDatabase(join(dir.path, 'arbiter.db'));
    let now = Date.parse('2026-03-01T00:00:00Z');
    audit = createAuditLog(db, { now: () => new Date((now += 1000)) });
    for (let i = 0; i < 300; i++) {
      audit.record({
        actor: 'system',
        action: actions[i % 3]!,
        discordId: i % 7 === 0 ? null : people[i % 3]!,
        subscriptionId: i % 5 === 0 ? null : `sub_${i % 4}`,
      });
    }
    rows = db.prepare('SELECT * FROM audit_logs ORDER BY id DESC').all() as AuditRow[];
  });
  after(() => {
    db.close();
    dir.remove();
  });

  const filters = () => {
    const all: { discordId?: string; subscriptionId?: string; action?: string }[] = [];
    for (const discordId of [undefined, people[1]!])
      for (const subscriptionId of [undefined, 'sub_2'])
        for (const action of [undefined, 'link.emailed']) {
          all.push({ ...(discordId ? { discordId } : {}), ...(subscriptionId ? { subscriptionId } : {}), ...(action ? { action } : {}) });
        }
    return all;
  };

  test('a filter is searched through an index, newest first without a sort; no filter reads only the newest rows', () => {
    for (const filter of filters()) {
      const lines = plan(db, auditListSql(filter), { discordId: null, subscriptionId: null, action: null, ...filter, limit: 100 });
      const label = `${JSON.stringify(filter)}:\n  ${lines.join('\n  ')}`;
      assert.ok(!lines.some((l) => /TEMP B-TREE/.test(l)), `a sort for ${label}`);
      if (Object.keys(filter).length === 0) assert.deepEqual(lines, ['SCAN audit_logs'], label);
      else assert.ok(lines.every((l) => /^SEARCH audit_logs USING INDEX audit_logs_(discord|subscription|action) /.test(l)), `no index search for ${label}`);
    }
  });

  test('each filter returns the matching rows, newest first, up to the limit', () => {
    for (const filter of filters()) {
      for (const limit of [5, 1000]) {
        const expected = rows
          .filter((r) => (filter.discordId === undefined || r.discord_id === filter.discordId)
            && (filter.subscriptionId === undefined || r.subscription_id === filter.subscriptionId)
            && (filter.action === undefined || r.action === filter.action))
          .slice(0, limit);
        assert.deepEqual(audit.list({ ...filter, limit }), expected, `${JSON.stringify(filter)} limit ${limit}`);
      }
    }
    assert.equal(audit.list().length, 100, 'a hundred rows unless told otherwise');
  });
});

describe("a person's grants and blocks", () => {
  test('their whole history, revoked ones included, is searched through an index, newest first without a sort', () => {
    const dir = tempDir();
    const db = openDatabase(join(dir.path, 'arbiter.db'));
    try {
      const lines = plan(db, GRANT_HISTORY_SQL, ['600000000000000001']);
      assert.ok(lines.every((l) => /^SEARCH role_grants USING INDEX /.test(l)) && !lines.some((l) => /TEMP B-TREE/.test(l)), lines.join('\n'));
    } finally {
      db.close();
      dir.remove();
    }
  });

  test("the history lists one person's grants and blocks, revoked or not, newest first", () => {
    const dir = tempDir();
    const db = openDatabase(join(dir.path, 'arbiter.db'));
    try {
      const grants = createGrantStore(db, { now: () => new Date('2026-03-01T00:00:00Z') });
      const by = { created_by: 'admin:500000000000000001', created_by_name: 'Ada', reason: 'r', expires_at: null };
      const first = grants.add({ ...by, discord_id: '600000000000000001', kind: 'grant', role_id: '300000000000000001' });
      grants.add({ ...by, discord_id: '600000000000000002', kind: 'grant', role_id: '300000000000000001' });
      const block = grants.add({ ...by, discord_id: '600000000000000001', kind: 'block', role_id: null });
      assert.equal(grants.revoke(first, { actor: 'admin:500000000000000001', name: 'Ada' }, 'ended'), true);
      assert.deepEqual(grants.history('600000000000000001').map((g) => g.id), [block, first]);
    } finally {
      db.close();
      dir.remove();
    }
  });
});

describe('the admin search', () => {
  let dir: TempDir;
  let db: Db;
  let subscriptions: SubscriptionStore;

  before(() => {
    dir = tempDir();
    db = openDatabase(join(dir.path, 'arbiter.db'));
    subscriptions = createSubscriptionStore(db);
    const at = '2026-03-01T00:00:00.000Z';
    const save = (id: string, email: string, name: string, updated_at = at) =>
      subscriptions.save({ subscription_id: id, email, name, tier: 'awakened', status: 'active', last_event_at: at, updated_at });
    save('sub_1', 'Zoe.Angstrom@Example.com', 'Zoë Ångström');
    save('sub_2', 'ada@example.org', 'Ada Lovelace', '2026-03-02T00:00:00.000Z');
    save('sub_3', 'bob@example.net', 'Bob "the" Builder');
    subscriptions.link('sub_3', '600000000000000009', at);
  });
  after(() => {
    db.close();
    dir.remove();
  });

  const ids = (q: string) => subscriptions.search(q, 50).map((s) => s.subscription_id);

  test('finds part of an email or name in any case, with or without accents, newest first', () => {
    assert.deepEqual(ids('ANGSTROM@'), ['sub_1']);
    assert.deepEqual(ids('zoë ång'), ['sub_1']);
    assert.deepEqual(ids('example'), ['sub_2', 'sub_1', 'sub_3']);
    assert.deepEqual(ids('"the"'), ['sub_3']);
    assert.deepEqual(ids('600000000000000009'), ['sub_3']);
    assert.deepEqual(ids('sub_2'), ['sub_2']);
    assert.deepEqual(ids('nobody@'), []);
  });

  test('short text is still found; a changed email is found by the new one only', () => {
    assert.deepEqual(ids('ÅN'), ['sub_1']);
    subscriptions.save({ subscription_id: 'sub_2', email: 'countess@example.org', name: 'Ada Lovelace', tier: 'awakened', status: 'active', last_event_at: '2026-03-02T00:00:00.000Z', updated_at: '2026-03-03T00:00:00.000Z' });
    assert.deepEqual(ids('ada@'), []);
    assert.deepEqual(ids('countess'), ['sub_2']);
  });

  test('text of three characters or more is found through the trigram index, not by reading every subscription', () => {
    const lines = plan(db, SEARCH_INDEXED_SQL, { exact: 'angstrom', phrase: '"angstrom"', limit: 50 });
    assert.ok(lines.some((l) => /^SCAN t VIRTUAL TABLE INDEX \d+:M/.test(l)), lines.join('\n'));
    assert.ok(!lines.some((l) => /^SCAN subscriptions\b/.test(l)), lines.join('\n'));
  });
});
