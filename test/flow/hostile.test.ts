import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SWEEP_JOB, SWEEP_KEY } from '../../src/roles/jobs.js';
import { until } from '../support/server.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

let next = 600000000000000000n;
const newUser = () => ({ id: String(++next), username: `user${next}` });

describe('refusals and recoveries', () => {
  let w: World;
  before(async () => {
    w = await startWorld({ env: { SWEEP_MAX_REMOVALS: '2' } });
  });
  after(() => w.stop());

  const audit = (action: string) => w.app.services.audit.list({ action });
  let n = 0;
  /** A subscriber with a fresh link, and a browser whose session has started the sign-in. */
  async function subscriber() {
    const user = newUser();
    w.discord.addUser(user);
    const email = `s${++n}@example.com`;
    const sub = `sub_h${n}`;
    await w.event({ subscription_id: sub, customer_email: email });
    const link = await w.linkFor(email);
    return { user, email, sub, link };
  }
  /** Opens the link and goes to Discord; returns Discord's redirect back to us, not yet followed. */
  async function startSignIn(browser: Browser, link: string, userId: string): Promise<string> {
    const toDiscord = await browser.get(link);
    assert.equal(toDiscord.status, 303);
    w.discord.signIn(userId);
    const back = await browser.get(toDiscord.headers.get('location')!);
    assert.equal(back.status, 302);
    return back.headers.get('location')!;
  }

  test('a forged or missing state is refused, audited, and changes nothing', async () => {
    const s = await subscriber();
    const browser = new Browser();
    const callback = new URL(await startSignIn(browser, s.link, s.user.id));
    callback.searchParams.set('state', 'forged-state');
    const res = await browser.get(callback.toString());
    assert.equal(res.status, 400);
    assert.match(await res.text(), /could not be verified/);
    // Another browser, no session at all.
    const stranger = await new Browser().get(callback.toString());
    assert.equal(stranger.status, 400);
    assert.equal(w.app.services.subscriptions.get(s.sub)?.discord_id, null);
    assert.equal(w.app.services.tokens.check(s.link.split('/').pop()!).status, 'valid');
    assert.ok(audit('link.state_rejected').length >= 2);
  });

  test('a replayed authorization code is refused', async () => {
    const s = await subscriber();
    const browser = new Browser();
    const callback = await startSignIn(browser, s.link, s.user.id);
    assert.equal((await browser.get(callback)).status, 303);
    // A second sign-in in the same browser, answered with the old code and the new state.
    const s2 = await subscriber();
    const fresh = new URL(await startSignIn(browser, s2.link, s2.user.id));
    const replay = new URL(callback);
    replay.searchParams.set('state', fresh.searchParams.get('state')!);
    const res = await browser.get(replay.toString());
    assert.equal(res.status, 400);
    assert.match(await res.text(), /did not accept the sign-in/);
    assert.equal(w.app.services.subscriptions.get(s2.sub)?.discord_id, null);
    assert.equal(audit('link.code_rejected').length, 1);
  });

  test('denied consent gets its own page and leaves the link usable', async () => {
    const s = await subscriber();
    const browser = new Browser();
    const toDiscord = await browser.get(s.link);
    w.discord.denyNextConsent();
    const back = await browser.get(toDiscord.headers.get('location')!);
    const res = await browser.get(back.headers.get('location')!);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /cancelled/);
    assert.equal(w.app.services.tokens.check(s.link.split('/').pop()!).status, 'valid');
    assert.equal(audit('link.denied').length, 1);
  });

  test('a link that expires between opening it and coming back from Discord is refused and audited', async () => {
    const s = await subscriber();
    const browser = new Browser();
    const callback = await startSignIn(browser, s.link, s.user.id);
    // The state is still fresh but the token has run out meanwhile.
    const token = w.app.services.tokens.check(s.link.split('/').pop()!);
    w.app.services.db.prepare('UPDATE link_tokens SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), token.row!.id);
    const res = await browser.get(callback);
    assert.equal(res.status, 410);
    assert.match(await res.text(), /expired[\s\S]*href="\/link\/new"/);
    assert.equal(w.app.services.subscriptions.get(s.sub)?.discord_id, null);
    assert.ok(audit('link.expired').some((r) => r.subscription_id === s.sub));
  });

  test('an expired state (older than 10 minutes) is refused', async () => {
    const s = await subscriber();
    const browser = new Browser();
    const callback = await startSignIn(browser, s.link, s.user.id);
    const realNow = w.app.services.clock.now;
    w.app.services.clock.now = () => new Date(Date.now() + 11 * 60_000);
    try {
      const res = await browser.get(callback);
      assert.equal(res.status, 400);
    } finally {
      w.app.services.clock.now = realNow;
    }
    assert.equal(w.app.services.subscriptions.get(s.sub)?.discord_id, null);
  });

  test('a 429 storm and 5xx answers delay role changes but lose and duplicate nothing', async () => {
    const s = await subscriber();
    w.discord.memberJoins(s.user.id, []);
    const rolePath = new RegExp(`/guilds/\\d+/members/${s.user.id}/roles/`);
    w.discord.addFault({ method: 'PUT', path: rolePath, status: 429, retryAfter: 0.2, times: 3 });
    w.discord.addFault({ method: 'PUT', path: rolePath, status: 502, times: 2 });
    w.discord.addFault({ method: 'GET', path: new RegExp(`/members/${s.user.id}$`), status: 429, retryAfter: 0.1, global: true, times: 1 });
    const browser = new Browser();
    assert.equal((await browser.get(await startSignIn(browser, s.link, s.user.id))).status, 303);
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 20_000, 'role after the storm');
    await w.settle();
    const adds = w.discord.roleChanges.filter((c) => c.userId === s.user.id && c.action === 'add');
    assert.equal(adds.length, 1);
    const job = w.app.services.db.prepare(`SELECT status, attempts FROM jobs WHERE kind = 'reconcile' AND key = ? ORDER BY id DESC`).get(s.user.id) as { status: string; attempts: number };
    assert.equal(job.status, 'done');
  });

  test('50013 (role above the bot) is dead-lettered with the role named in plain words and shown in /health', async () => {
    const s = await subscriber();
    w.discord.memberJoins(s.user.id, []);
    w.discord.setBotPermissions({ rolePosition: 2 });
    try {
      const browser = new Browser();
      assert.equal((await browser.get(await startSignIn(browser, s.link, s.user.id))).status, 303);
      const dead = await until(() => w.app.services.jobs.dead().find((j) => j.key === s.user.id), 10_000, 'dead reconcile');
      assert.match(dead.last_error ?? '', /discord_missing_permissions/);
      assert.match(dead.last_error ?? '', /"Awakened"/);
      assert.equal(dead.attempts, 1);
      await w.app.services.discord!.bot.checkPermissions();
      const health = (await (await fetch(`${w.app.url}/health`)).json()) as { details: { discord: { problems: string[] } } };
      assert.ok(health.details.discord.problems.some((p) => p.includes('"Awakened"') && p.includes('not below the bot')), JSON.stringify(health.details.discord));
    } finally {
      w.discord.setBotPermissions({ rolePosition: 10 });
      await w.app.services.discord!.bot.checkPermissions();
    }
  });

  test('a subscriber not in the server yet gets the roles when they join', async () => {
    const s = await subscriber();
    w.discord.addFault({ method: 'PUT', path: new RegExp(`/guilds/\\d+/members/${s.user.id}$`), status: 403, body: { message: 'Missing Permissions', code: 50013 } });
    const browser = new Browser();
    const done = await browser.get(await startSignIn(browser, s.link, s.user.id));
    assert.equal(done.status, 303);
    const page = await (await browser.get(new URL(done.headers.get('location')!, w.app.url).toString())).text();
    assert.match(page, /could not add you/);
    await until(() => audit('roles.waiting_for_member').some((r) => r.discord_id === s.user.id), 10_000, 'waiting');
    w.discord.memberJoins(s.user.id, []);
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles on join');
  });

  test('the sweep repairs a role removed by hand, and refuses a mass removal above the cap', async () => {
    const s = await subscriber();
    w.discord.memberJoins(s.user.id, []);
    const browser = new Browser();
    await browser.get(await startSignIn(browser, s.link, s.user.id));
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'linked');
    w.discord.setMemberRoles(s.user.id, [ROLE.booster]);
    w.app.services.jobs.enqueue(SWEEP_JOB, SWEEP_KEY);
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'repaired by the sweep');
    assert.deepEqual(w.discord.member(s.user.id)!.roles.sort(), [ROLE.awakened, ROLE.booster].sort());

    // Three people who should not have the role: more removals than SWEEP_MAX_REMOVALS=2.
    const strangers = [newUser(), newUser(), newUser()];
    for (const u of strangers) {
      w.discord.addUser(u);
      w.discord.memberJoins(u.id, [ROLE.awakened]);
    }
    const removalsBefore = w.discord.roleChanges.filter((c) => c.action === 'remove').length;
    w.app.services.jobs.enqueue(SWEEP_JOB, SWEEP_KEY);
    await until(() => audit('sweep.refused').length === 1, 10_000, 'refused sweep');
    await w.settle();
    for (const u of strangers) assert.deepEqual(w.discord.member(u.id)!.roles, [ROLE.awakened]);
    assert.equal(w.discord.roleChanges.filter((c) => c.action === 'remove').length, removalsBefore);
    assert.match(audit('sweep.refused')[0]!.reason ?? '', /3 roles/);
  });

  test('Ghost down: the update is retried and lands once Ghost is back; a missing member is audited, not an error', async () => {
    const s = await subscriber();
    w.ghost.addMember({ email: s.email, note: null });
    w.ghost.setDown(true);
    const browser = new Browser();
    await browser.get(await startSignIn(browser, s.link, s.user.id));
    await until(() => {
      const job = w.app.services.db.prepare(`SELECT attempts FROM jobs WHERE kind = 'ghost_sync' AND key = ?`).get(s.sub) as { attempts: number } | undefined;
      return job && job.attempts >= 2;
    }, 10_000, 'failed Ghost attempts');
    w.ghost.setDown(false);
    await until(() => w.ghost.member(s.email)?.note === `discord_id: ${s.user.id}`, 10_000, 'Ghost note after recovery');

    const nobody = await subscriber();
    const b2 = new Browser();
    await b2.get(await startSignIn(b2, nobody.link, nobody.user.id));
    await until(() => audit('ghost.member_not_found').some((r) => r.email === nobody.email), 10_000, 'not found audited');
  });
});

describe('accounts younger than MIN_ACCOUNT_AGE_DAYS', () => {
  test('are refused with a clear page and the link stays usable', async (t) => {
    const w = await startWorld({ env: { MIN_ACCOUNT_AGE_DAYS: '7' } });
    t.after(() => w.stop());
    // A snowflake minted now: the account is seconds old.
    const id = String(((BigInt(Date.now()) - 1420070400000n) << 22n) + 1n);
    w.discord.addUser({ id, username: 'newbie' });
    await w.event({ subscription_id: 'sub_new', customer_email: 'new@example.com' });
    const link = await w.linkFor('new@example.com');
    w.discord.signIn(id);
    const { res } = await new Browser().follow(link);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /too new[\s\S]*7 days/);
    assert.equal(w.app.services.tokens.check(link.split('/').pop()!).status, 'valid');
    assert.equal(w.app.services.audit.list({ action: 'link.account_too_new' }).length, 1);
  });
});

describe('Ghost member custom fields', () => {
  test('with CMS_DISCORD_FIELD=custom the Discord ID goes into the custom field discord_id', async (t) => {
    const w = await startWorld({ env: { CMS_DISCORD_FIELD: 'custom' }, ghostCustomFields: ['discord_id'] });
    t.after(() => w.stop());
    const user = newUser();
    w.discord.addUser(user);
    w.ghost.addMember({ email: 'cf@example.com', note: 'untouched' });
    await w.event({ subscription_id: 'sub_cf', customer_email: 'cf@example.com' });
    w.discord.signIn(user.id);
    assert.equal((await new Browser().follow(await w.linkFor('cf@example.com'))).res.status, 200);
    await until(() => (w.ghost.member('cf@example.com')?.custom_fields as Record<string, string> | undefined)?.discord_id === user.id, 10_000, 'custom field');
    assert.equal(w.ghost.member('cf@example.com')!.note, 'untouched');
  });

  test('a Ghost without custom fields drops the field silently; the job says so instead of claiming success', async (t) => {
    const w = await startWorld({ env: { CMS_DISCORD_FIELD: 'custom' } });
    t.after(() => w.stop());
    const user = newUser();
    w.discord.addUser(user);
    w.ghost.addMember({ email: 'nocf@example.com' });
    await w.event({ subscription_id: 'sub_nocf', customer_email: 'nocf@example.com' });
    w.discord.signIn(user.id);
    await new Browser().follow(await w.linkFor('nocf@example.com'));
    const dead = await until(() => w.app.services.jobs.dead().find((j) => j.kind === 'ghost_sync'), 10_000, 'dead ghost job');
    assert.match(dead.last_error ?? '', /custom field discord_id/);
  });
});
