import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoleGrant } from '../../src/roles/grants.js';
import { explainRoles } from '../../src/roles/provenance.js';

const TIERS = { awakened: ['1'], ascended: ['1', '2'] };
const NAMES: Record<string, string> = { '1': 'Awakened', '2': 'Ascended', '9': 'Booster' };
const roleName = (id: string) => NAMES[id];

function grant(fields: Partial<RoleGrant>): RoleGrant {
  return {
    id: 1, discord_id: '10', kind: 'grant', role_id: '2', reason: 'event winner', created_by: 'admin:7', created_by_name: 'Ada',
    created_at: '2026-12-01T00:00:00.000Z', expires_at: null, revoked_at: null, revoked_by: null, revoked_by_name: null, revoke_reason: null,
    ...fields,
  };
}

test('each role says why: tier of a subscription, a grant with its end, a block, and roles nobody manages', () => {
  const lines = explainRoles({
    subscriptions: [{ subscription_id: 'sub_123', tier: 'awakened', status: 'active' }],
    grants: [grant({ expires_at: '2027-01-01T00:00:00.000Z' })],
    tiers: TIERS,
    actual: ['1', '9'],
    roleName,
  });
  const byName = Object.fromEntries(lines.map((l) => [l.name, l]));
  assert.deepEqual(byName.Awakened!.reasons, ['tier awakened of subscription sub_123']);
  assert.equal(byName.Awakened!.difference, null);
  assert.deepEqual(byName.Ascended!.reasons, ['granted by Ada until 2027-01-01: event winner']);
  assert.equal(byName.Ascended!.difference, 'missing on Discord: the next reconcile adds it');
  assert.deepEqual(byName.Booster!.reasons, ['not managed by Arbiter']);
  assert.equal(byName.Booster!.managed, false);
  assert.equal(byName.Booster!.difference, null);
  assert.deepEqual(lines.map((l) => l.name), ['Ascended', 'Awakened', 'Booster']);
});

test('a block beats the tier; a suspended subscription gives nothing; a managed role without a reason is extra', () => {
  const lines = explainRoles({
    subscriptions: [
      { subscription_id: 'sub_1', tier: 'awakened', status: 'active' },
      { subscription_id: 'sub_2', tier: 'ascended', status: 'suspended' },
    ],
    grants: [grant({ kind: 'block', role_id: '1', reason: 'chargeback' })],
    tiers: TIERS,
    actual: ['1', '2'],
    roleName,
  });
  const awakened = lines.find((l) => l.roleId === '1')!;
  assert.equal(awakened.shouldHold, false);
  assert.ok(awakened.reasons.includes('blocked by Ada: chargeback'));
  assert.ok(awakened.reasons.includes('tier ascended of subscription sub_2, which is suspended: gives nothing'));
  assert.equal(awakened.difference, 'held on Discord but not due: the next reconcile removes it');
  const ascended = lines.find((l) => l.roleId === '2')!;
  assert.equal(ascended.shouldHold, false);
  assert.equal(ascended.difference, 'held on Discord but not due: the next reconcile removes it');
});

test('a block of every managed role names each; without a Discord read there is no difference to report', () => {
  const lines = explainRoles({
    subscriptions: [{ subscription_id: 'sub_1', tier: 'ascended', status: 'active' }],
    grants: [grant({ kind: 'block', role_id: null, reason: 'fraud' })],
    tiers: TIERS,
    actual: null,
    roleName,
  });
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.equal(line.shouldHold, false);
    assert.equal(line.holds, null);
    assert.equal(line.difference, null);
    assert.ok(line.reasons.includes('blocked by Ada: fraud (all managed roles)'));
  }
});

test('a managed role held on Discord that nothing gives is listed with that', () => {
  const [line] = explainRoles({ subscriptions: [], grants: [], tiers: TIERS, actual: ['2'], roleName });
  assert.deepEqual(line!.reasons, ['no subscription or grant gives it']);
  assert.equal(line!.difference, 'held on Discord but not due: the next reconcile removes it');
});
