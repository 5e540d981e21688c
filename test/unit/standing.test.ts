import assert from 'node:assert/strict';
import { test } from 'node:test';
import { standingOf } from '../../src/apps/standing.js';
import type { RoleGrant } from '../../src/roles/grants.js';
import type { Subscription } from '../../src/subscriptions/store.js';

const TIERS = { awakened: ['1'], ascended: ['1', '2'] };

function sub(fields: Partial<Subscription>): Subscription {
  return {
    subscription_id: 'sub_1', email: 'a@example.com', name: 'Ada', tier: 'awakened', status: 'active', discord_id: '10',
    ...fields,
  } as Subscription;
}

function standing(subs: Subscription[], grants: Partial<RoleGrant>[] = []) {
  return standingOf({
    config: { tiers: TIERS } as never,
    subscriptions: { byDiscordId: () => subs } as never,
    grants: { active: () => grants as RoleGrant[] } as never,
  }, '10');
}

test('active tiers each once, the best status, and the roles due with why', () => {
  const s = standing([
    sub({ subscription_id: 'sub_1', tier: 'ascended' }),
    sub({ subscription_id: 'sub_2', tier: 'awakened', status: 'suspended' }),
    sub({ subscription_id: 'sub_3', tier: 'ascended' }),
  ]);
  assert.deepEqual(s.tiers, ['ascended']);
  assert.equal(s.subscriptionStatus, 'active');
  assert.deepEqual(s.roles.map((r) => r.roleId), ['1', '2']);
  assert.ok(s.roles[1]!.reasons.includes('tier ascended of subscription sub_3'));
});

test('suspended beats cancelled; nobody has none; a block takes a role away and a grant adds one', () => {
  assert.equal(standing([sub({ status: 'cancelled' }), sub({ status: 'suspended' })]).subscriptionStatus, 'suspended');
  assert.deepEqual(standing([]), { discordId: '10', tiers: [], subscriptionStatus: 'none', roles: [] });
  const s = standing([sub({ tier: 'ascended' })], [
    { kind: 'block', role_id: '1', reason: 'chargeback', created_by: 'admin:7', created_by_name: 'Ada', expires_at: null },
  ]);
  assert.deepEqual(s.roles.map((r) => r.roleId), ['2']);
  const granted = standing([], [
    { kind: 'grant', role_id: '2', reason: 'event winner', created_by: 'admin:7', created_by_name: 'Ada', expires_at: null },
  ]);
  assert.deepEqual(granted.roles, [{ roleId: '2', reasons: ['granted by Ada: event winner'] }]);
  assert.deepEqual(granted.tiers, []);
});
