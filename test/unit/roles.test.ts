import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredRoles, planRoles } from '../../src/roles/plan.js';
import { permissionReport } from '../../src/discord/permissions.js';
import { noteWithDiscordId } from '../../src/ghost/note.js';

const tiers = { bronze: ['1'], gold: ['1', '2'] };

test('desired roles: active subscriptions only, union over several, grants added, blocks subtracted', () => {
  assert.deepEqual([...desiredRoles([{ tier: 'gold', status: 'active' }], [], tiers)].sort(), ['1', '2']);
  assert.deepEqual([...desiredRoles([{ tier: 'gold', status: 'suspended' }, { tier: 'bronze', status: 'active' }], [], tiers)], ['1']);
  assert.deepEqual([...desiredRoles([{ tier: 'gold', status: 'cancelled' }], [], tiers)], []);
  assert.deepEqual([...desiredRoles([], [{ kind: 'grant', role_id: '2' }], tiers)], ['2']);
  assert.deepEqual([...desiredRoles([{ tier: 'gold', status: 'active' }], [{ kind: 'block', role_id: '2' }], tiers)], ['1']);
  assert.deepEqual([...desiredRoles([{ tier: 'gold', status: 'active' }], [{ kind: 'grant', role_id: '3' }, { kind: 'block', role_id: null }], tiers)], []);
  assert.deepEqual([...desiredRoles([{ tier: 'removed-tier', status: 'active' }], [], tiers)], []);
});

test('the plan adds what is missing and removes only managed roles', () => {
  const managed = new Set(['1', '2']);
  assert.deepEqual(planRoles(new Set(['1', '2']), new Set(['1', '9']), managed), { add: ['2'], remove: [] });
  assert.deepEqual(planRoles(new Set(), new Set(['1', '2', '9']), managed), { add: [], remove: ['1', '2'] });
  assert.deepEqual(planRoles(new Set(['1']), new Set(['1']), managed), { add: [], remove: [] });
});

test('permission report: Manage Roles, Create Invite, role positions and missing roles, named in words', () => {
  const roles = [
    { id: 'g', name: '@everyone', position: 0, permissions: String(1n << 0n) },
    { id: 'bot', name: 'Arbiter', position: 5, permissions: String(1n << 28n) },
    { id: 'low', name: 'Bronze', position: 2, permissions: '0' },
    { id: 'high', name: 'Gold', position: 7, permissions: '0' },
  ];
  const ok = permissionReport('g', roles, ['bot'], new Set(['low']));
  assert.equal(ok.ok, true);
  assert.deepEqual(ok.roleNames, { low: 'Bronze' });

  const bad = permissionReport('g', roles, ['bot'], new Set(['low', 'high', 'gone']));
  assert.equal(bad.ok, false);
  assert.ok(bad.problems.some((p) => p.includes('"Gold"') && p.includes('"Arbiter"')));
  assert.ok(bad.problems.some((p) => p.includes('gone') && p.includes('does not exist')));

  const noPerm = permissionReport('g', roles.map((r) => (r.id === 'bot' ? { ...r, permissions: '0' } : r)), ['bot'], new Set(['low']));
  assert.equal(noPerm.manageRoles, false);
  assert.match(noPerm.problems[0]!, /Manage Roles/);
  assert.equal(noPerm.problems.length, 1);

  const noInvite = permissionReport('g', roles.map((r) => (r.id === 'g' ? { ...r, permissions: '0' } : r)), ['bot'], new Set(['low']));
  assert.equal(noInvite.ok, false);
  assert.equal(noInvite.createInvite, false);
  assert.deepEqual(noInvite.problems.length, 1);
  assert.match(noInvite.problems[0]!, /Create Invite/);

  const admin = permissionReport('g', roles.map((r) => (r.id === 'bot' ? { ...r, permissions: String(1n << 3n) } : r)), ['bot'], new Set(['low']));
  assert.equal(admin.ok, true);

  const outside = permissionReport('g', null, null, new Set(['low']));
  assert.equal(outside.inGuild, false);
});

test('the Ghost note keeps one discord_id line and the rest of the note as it was', () => {
  assert.equal(noteWithDiscordId(null, '123456789012345678'), 'discord_id: 123456789012345678');
  assert.equal(noteWithDiscordId('VIP', '123456789012345678'), 'VIP\n\ndiscord_id: 123456789012345678');
  const twice = noteWithDiscordId(noteWithDiscordId('Line one\nLine two', '111111111111111111'), '222222222222222222');
  assert.equal(twice, 'Line one\nLine two\n\ndiscord_id: 222222222222222222');
  assert.equal(noteWithDiscordId('a\ndiscord_id: 1\nb', '333333333333333333'), 'a\nb\n\ndiscord_id: 333333333333333333');
});
