import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { sqliteAdapter } from '../../src/apps/oidc/adapter.js';
import { silentLogger } from '../../src/log.js';
import { prune } from '../../src/ops/prune.js';
import { createServices, type Services } from '../../src/services.js';
import { testClock, type TestClock } from '../support/clock.js';
import { tempDir, testConfig, type TempDir } from '../support/config.js';

let dir: TempDir;
let clock: TestClock;
let services: Services;
beforeEach(() => {
  dir = tempDir();
  clock = testClock();
  services = createServices(testConfig(dir.path), { clock, log: silentLogger() });
});
afterEach(() => {
  services.db.close();
  dir.remove();
});

test('the store keeps payloads until they expire, finds sessions by uid, and revokes what a grant gave', async () => {
  const store = sqliteAdapter(services.db, clock);
  const sessions = store('Session');
  const codes = store('AuthorizationCode');
  await sessions.upsert('s1', { uid: 'u1', accountId: '600000000000000001' }, 60);
  assert.equal((await sessions.findByUid('u1'))?.accountId, '600000000000000001');
  await codes.upsert('c1', { grantId: 'g1', clientId: 'wiki' }, 60);
  await store('AccessToken').upsert('a1', { grantId: 'g1', clientId: 'wiki' }, 3600);
  await store('AccessToken').upsert('a2', { grantId: 'g2', clientId: 'wiki' }, 3600);
  await codes.revokeByGrantId('g1');
  assert.equal(await codes.find('c1'), undefined);
  assert.equal(await store('AccessToken').find('a1'), undefined);
  assert.ok(await store('AccessToken').find('a2'));
  clock.advance(61_000);
  assert.equal(await sessions.find('s1'), undefined, 'expired');
});

test('a code is consumed once: the second consumption fails and revokes the tokens of its grant', async () => {
  const store = sqliteAdapter(services.db, clock, (model) => new Error(`${model} reused`));
  const codes = store('AuthorizationCode');
  await codes.upsert('c1', { grantId: 'g1', clientId: 'wiki' }, 60);
  await store('AccessToken').upsert('a1', { grantId: 'g1', clientId: 'wiki' }, 3600);
  await codes.consume('c1');
  assert.equal(typeof (await codes.find('c1'))?.consumed, 'number');
  await assert.rejects(codes.consume('c1'), /AuthorizationCode reused/);
  assert.equal(await store('AccessToken').find('a1'), undefined);
});

test('the daily prune removes the provider state that expired, and only that', async () => {
  const store = sqliteAdapter(services.db, clock);
  await store('Session').upsert('old', { uid: 'u-old' }, 60);
  await store('Interaction').upsert('old', {}, 60);
  await store('Session').upsert('live', { uid: 'u-live' }, 86_400);
  clock.advance(120_000);
  const dry = await prune(services, { dryRun: true });
  assert.equal(dry.counts.oidcState, 2);
  const done = await prune(services, { batchSize: 1 });
  assert.equal(done.counts.oidcState, 2);
  const left = services.db.prepare('SELECT model, id FROM oidc_store ORDER BY model').all();
  assert.deepEqual(left, [{ model: 'Session', id: 'live' }]);
});
