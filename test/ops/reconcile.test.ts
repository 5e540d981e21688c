import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AuditRow } from '../../src/audit/log.js';
import { linkSubscriber } from '../support/admin.js';
import { arbiter } from '../support/cli.js';
import { ROLE, startWorld, type World } from '../support/world.js';

const ADA = { id: '610000000000000001', username: 'ada' };
/** Holds a managed role, but Arbiter has no subscription or grant for him. */
const BORIS = { id: '610000000000000002', username: 'boris' };

let w: World;
before(async () => {
  // No periodic sweep: nothing but the commands under test may change roles.
  w = await startWorld({ env: { RECONCILE_INTERVAL_MINUTES: '0' } });
  await linkSubscriber(w, { subscription_id: 'sub_ada', customer_email: 'ada@example.com', tier: 'awakened' }, ADA);
  w.discord.addUser(BORIS);
  w.discord.memberJoins(BORIS.id, [ROLE.ascended, ROLE.booster]);
  await w.settle();
});
after(() => w.stop());

const reconcile = (args: string[], env: Record<string, string> = {}) => arbiter(['reconcile', ...args], { ...w.env, ...env }, w.dir.path);

/** What a dry run must leave as it was. */
function snapshot() {
  const db = w.app.services.db;
  return {
    audit: db.prepare('SELECT COUNT(*) FROM audit_logs').pluck().get(),
    jobs: db.prepare('SELECT COUNT(*) FROM jobs').pluck().get(),
    roleChanges: w.discord.roleChanges.length,
    ada: w.discord.member(ADA.id)?.roles.toSorted(),
    boris: w.discord.member(BORIS.id)?.roles.toSorted(),
  };
}

const cliRows = (): AuditRow[] => w.app.services.db.prepare("SELECT * FROM audit_logs WHERE actor LIKE 'cli:%' ORDER BY id").all() as AuditRow[];

test('asked wrongly, it says how to ask and changes nothing', async () => {
  const neither = await reconcile([]);
  assert.equal(neither.code, 1);
  assert.match(neither.stderr, /--discord-id ID or --all/);
  const both = await reconcile(['--all', '--discord-id', ADA.id]);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /--discord-id ID or --all/);
  const bad = await reconcile(['--discord-id', '12ab']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--discord-id must be a Discord ID \(17 to 20 digits\)/);
  const stranger = await reconcile(['--discord-id', '610000000000000099']);
  assert.equal(stranger.code, 1);
  assert.match(stranger.stderr, /610000000000000099 is not in the Discord server, and Arbiter has no subscription or grant for it/);
});

test('--dry-run prints who gains and loses which role by name, and changes nothing', async () => {
  // Ada's tier gives Awakened; she lost it and holds Ascended, which it does not give. The booster role is not ours.
  w.discord.setMemberRoles(ADA.id, [ROLE.ascended, ROLE.booster]);
  const before = snapshot();
  const run = await reconcile(['--discord-id', ADA.id, '--dry-run']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`^${ADA.id} \\(ada@example.com\\): gains Awakened, loses Ascended$`, 'm'));
  assert.match(run.stdout, /Dry run: nothing was changed/);
  assert.match(run.stdout, /1 member checked: 1 role to add, 1 to remove/);
  assert.doesNotMatch(run.stdout, /Server Booster/);
  assert.deepEqual(snapshot(), before);
});

test('the real run fixes the member through the reconciler and records who asked', async () => {
  const run = await reconcile(['--discord-id', ADA.id, '--reason', 'roles reported wrong']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`^${ADA.id} \\(ada@example.com\\): gained Awakened, lost Ascended$`, 'm'));
  assert.match(run.stdout, /^1 member checked, 1 role added, 1 removed, 0 refused\.$/m);
  assert.deepEqual(w.discord.member(ADA.id)?.roles.toSorted(), [ROLE.awakened, ROLE.booster].toSorted());

  const [asked] = cliRows();
  assert.ok(asked);
  assert.match(asked.actor, /^cli:\S+$/);
  assert.match(asked.actor_name ?? '', /\(command line\)$/);
  assert.equal(asked.action, 'roles.reconcile_requested');
  assert.equal(asked.discord_id, ADA.id);
  assert.equal(asked.reason, 'roles reported wrong');
  const changes = w.app.services.audit.list({ discordId: ADA.id }).filter((r) => r.id > asked.id);
  assert.deepEqual(changes.map((r) => [r.actor, r.action, r.role_id]).toSorted(), [['system', 'role.added', ROLE.awakened], ['system', 'role.removed', ROLE.ascended]]);
  const reasons = w.discord.roleChanges.slice(-2).map((c) => c.reason);
  for (const reason of reasons) assert.match(reason ?? '', /^Arbiter: reconcile requested by .+ \(command line\)/);

  const again = await reconcile(['--discord-id', ADA.id]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /already right/);
  assert.match(again.stdout, /^1 member checked, 0 roles added, 0 removed, 0 refused\.$/m);
});

test('--all --dry-run covers someone only Discord knows of, who holds a managed role', async () => {
  const before = snapshot();
  const run = await reconcile(['--all', '--dry-run']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`^${BORIS.id}: loses Ascended$`, 'm'));
  assert.doesNotMatch(run.stdout, new RegExp(`^${ADA.id}`, 'm'));
  assert.match(run.stdout, /2 members checked: 0 roles to add, 1 to remove/);
  assert.deepEqual(snapshot(), before);
});

test('--all refuses more removals than SWEEP_MAX_REMOVALS unless --force', async () => {
  const before = snapshot();
  const refused = await reconcile(['--all'], { SWEEP_MAX_REMOVALS: '0' });
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /would remove 1 role, more than SWEEP_MAX_REMOVALS \(0\).*Nothing was changed.*--force/s);
  assert.deepEqual(snapshot(), before);

  const dry = await reconcile(['--all', '--dry-run'], { SWEEP_MAX_REMOVALS: '0' });
  assert.equal(dry.code, 0);
  assert.match(dry.stdout, /more than SWEEP_MAX_REMOVALS \(0\): the real run needs --force/);

  const forced = await reconcile(['--all', '--force'], { SWEEP_MAX_REMOVALS: '0' });
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.match(forced.stdout, new RegExp(`^${BORIS.id}: lost Ascended$`, 'm'));
  assert.match(forced.stdout, /^2 members checked, 0 roles added, 1 removed, 0 refused\.$/m);
  assert.deepEqual(w.discord.member(BORIS.id)?.roles, [ROLE.booster]);
  const asked = cliRows().at(-1)!;
  assert.equal(asked.action, 'roles.reconcile_requested');
  assert.equal(asked.discord_id, null);
  assert.deepEqual(JSON.parse(asked.details ?? '{}'), { all: true, force: true, members: 2, additions: 0, removals: 1 });
});

test('a change Discord refuses is counted with its reason, and the run exits 1', async (t) => {
  // Ada should hold Awakened; with the bot's role moved below it, the bot cannot give it back.
  w.discord.setMemberRoles(ADA.id, [ROLE.booster]);
  w.discord.setBotPermissions({ rolePosition: 1 });
  t.after(() => w.discord.setBotPermissions({ rolePosition: 10 }));
  const run = await reconcile(['--discord-id', ADA.id]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^1 member checked, 0 roles added, 0 removed, 1 refused:$/m);
  assert.match(run.stdout, new RegExp(`^  ${ADA.id}: adding "Awakened": Discord refused`, 'm'));
});
