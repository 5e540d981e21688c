import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/open.js';
import { createLinkTokens, hashToken } from '../../src/linking/tokens.js';
import { createSubscriptionStore } from '../../src/subscriptions/store.js';
import { tempDir } from '../support/config.js';

function setup() {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'arbiter.db'));
  let now = new Date('2026-03-01T12:00:00Z');
  const clock: Clock = { now: () => now };
  const subs = createSubscriptionStore(db);
  for (const id of ['sub_a', 'sub_b']) {
    subs.save({ subscription_id: id, email: `${id}@example.com`, name: '', tier: 'awakened', status: 'active', last_event_at: now.toISOString(), updated_at: now.toISOString() });
  }
  return {
    dir,
    db,
    tokens: createLinkTokens(db, clock, 24),
    advance: (ms: number) => (now = new Date(now.getTime() + ms)),
    close: () => {
      db.close();
      dir.remove();
    },
  };
}

test('a token is 32 random bytes in base64url, valid until its 24 h are over', (t) => {
  const s = setup();
  t.after(s.close);
  const { token, expiresAt } = s.tokens.issue('sub_a');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(token, 'base64url').length, 32);
  assert.equal(expiresAt.toISOString(), '2026-03-02T12:00:00.000Z');
  assert.equal(s.tokens.check(token).status, 'valid');
  s.advance(24 * 3_600_000 - 1);
  assert.equal(s.tokens.check(token).status, 'valid');
  s.advance(1);
  assert.equal(s.tokens.check(token).status, 'expired');
  assert.equal(s.tokens.spend(token, '123456789012345678').status, 'expired');
});

test('a token is spent once; checking never spends it', (t) => {
  const s = setup();
  t.after(s.close);
  const { token } = s.tokens.issue('sub_a');
  for (let i = 0; i < 3; i++) assert.equal(s.tokens.check(token).status, 'valid');
  assert.equal(s.tokens.spend(token, '123456789012345678').status, 'valid');
  assert.equal(s.tokens.spend(token, '123456789012345678').status, 'used');
  assert.equal(s.tokens.check(token).status, 'used');
});

test('a newer token revokes the older unused ones of the same subscription only', (t) => {
  const s = setup();
  t.after(s.close);
  const first = s.tokens.issue('sub_a').token;
  const other = s.tokens.issue('sub_b').token;
  const second = s.tokens.issue('sub_a').token;
  assert.equal(s.tokens.check(first).status, 'revoked');
  assert.equal(s.tokens.check(second).status, 'valid');
  assert.equal(s.tokens.check(other).status, 'valid');
});

test('unknown and malformed tokens are unknown', (t) => {
  const s = setup();
  t.after(s.close);
  assert.equal(s.tokens.check('A'.repeat(43)).status, 'unknown');
  assert.equal(s.tokens.check("' OR 1=1 --").status, 'unknown');
  assert.equal(s.tokens.check('').status, 'unknown');
});

test('only the hash is stored: the raw token is nowhere in the database files', (t) => {
  const s = setup();
  t.after(s.close);
  const issued = Array.from({ length: 5 }, () => s.tokens.issue('sub_a').token);
  s.tokens.spend(issued[4]!, '123456789012345678');
  s.db.pragma('wal_checkpoint(PASSIVE)');
  const files = readdirSync(s.dir.path).filter((f) => f.startsWith('arbiter.db'));
  const bytes = Buffer.concat(files.map((f) => readFileSync(join(s.dir.path, f))));
  for (const token of issued) {
    for (const form of [token, Buffer.from(token, 'base64url').toString('hex'), Buffer.from(token, 'base64url').toString('base64')]) {
      assert.equal(bytes.includes(Buffer.from(form)), false, 'raw token found in the database');
    }
    assert.equal(bytes.includes(Buffer.from(hashToken(token))), true, 'hash not found');
  }
});

test('a token revoked because its subscription stopped says so; one replaced by a newer link says that', (t) => {
  const s = setup();
  t.after(s.close);
  const replaced = s.tokens.issue('sub_a').token;
  const current = s.tokens.issue('sub_a').token;
  s.tokens.revokeAll('sub_a', 'inactive');
  assert.equal(s.tokens.check(replaced).status, 'revoked');
  assert.equal(s.tokens.check(current).status, 'inactive');
  assert.equal(s.tokens.check(current).row?.revoked_reason, 'inactive');
  assert.equal(s.tokens.check(replaced).row?.revoked_reason, 'replaced');
  // Revoking again keeps the first reason.
  s.tokens.revokeAll('sub_a', 'replaced');
  assert.equal(s.tokens.check(current).status, 'inactive');
});
