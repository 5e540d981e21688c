import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN, ADMIN_ENV, linkSubscriber, signedIn, STAFF } from '../support/admin.js';
import { testClock } from '../support/clock.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

const ZOE = { id: '600000000000000001', username: 'zoe' };

describe('admin panel: find a member and see why they hold each role', () => {
  let world: World;
  let browser: Browser;
  const clock = testClock();
  before(async () => {
    world = await startWorld({ env: ADMIN_ENV, overrides: { clock } });
    world.ghost.addMember({ email: 'zoe@example.com', name: 'Zoë', note: 'VIP' });
    world.discord.addUser(ZOE);
    world.discord.memberJoins(ZOE.id, [ROLE.booster]);
    await linkSubscriber(world, { subscription_id: 'sub_zoe', customer_email: 'zoe@example.com', customer_name: 'Zoë Ünal', tier: 'awakened' }, ZOE);
    await world.event({ subscription_id: 'sub_new', customer_email: 'newcomer@example.com', customer_name: '<img src=x onerror=alert(1)>', tier: 'ascended' });
    await world.linkFor('newcomer@example.com');
    browser = new Browser();
    await signedIn(world, browser, ADMIN);
  });
  after(() => world.stop());
  const page = async (path: string) => {
    const res = await browser.get(`${world.app.url}${path}`);
    return { status: res.status, html: await res.text() };
  };

  test('search by part of an email (any case), by name beyond ASCII, by Discord ID and by subscription ID', async () => {
    for (const q of ['ZOE@EXAMPLE', 'zoë ü', ZOE.id, 'sub_zoe']) {
      const { status, html } = await page(`/admin/members?q=${encodeURIComponent(q)}`);
      assert.equal(status, 200);
      assert.match(html, /1 subscription found/, `query ${q}`);
      assert.match(html, /href="\/admin\/subscriptions\/sub_zoe"/);
      assert.match(html, new RegExp(`href="/admin/members/${ZOE.id}"`));
      assert.match(html, />linked/);
    }
    const none = await page('/admin/members?q=nobody-here');
    assert.match(none.html, /Nothing found for &quot;nobody-here&quot;|Nothing found for "nobody-here"/);
  });

  test('a result shows the link state and the last event; a hostile name is shown as text', async () => {
    const { html } = await page('/admin/members?q=newcomer');
    assert.match(html, />sent/);
    assert.match(html, /subscription\.created \(applied\)/);
    assert.ok(!html.includes('<img src=x'), 'the name is escaped');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)>'));
  });

  test("a member's page explains each role, compares with Discord, and shows Ghost and history", async () => {
    world.discord.setMemberRoles(ZOE.id, [ROLE.booster]); // someone took the tier role away by hand
    const { status, html } = await page(`/admin/members/${ZOE.id}`);
    assert.equal(status, 200);
    assert.match(html, /tier awakened of subscription sub_zoe/);
    assert.match(html, /missing on Discord: the next reconcile adds it/);
    assert.match(html, /Server Booster[\s\S]*?not managed by Arbiter/);
    assert.match(html, /the Discord ID is written/);
    assert.match(html, /link\.completed|role\.added/);
  });

  test('a slow Discord does not hang the page: it says it could not read Discord', async () => {
    world.discord.addFault({ method: 'GET', path: `/guilds/${'200000000000000001'}/members/${ZOE.id}`, delayMs: 8_000, times: 1 });
    const started = Date.now();
    const { status, html } = await page(`/admin/members/${ZOE.id}`);
    assert.equal(status, 200);
    assert.match(html, /Could not read Discord/);
    assert.ok(Date.now() - started < 8_000, 'answered before Discord did');
    world.discord.clearFaults();
  });

  test('a subscription not linked yet has its own page; unknown and malformed IDs are refused in words', async () => {
    const sub = await page('/admin/subscriptions/sub_new');
    assert.equal(sub.status, 200);
    assert.match(sub.html, /newcomer@example\.com/);
    assert.match(sub.html, /not linked/);
    assert.equal((await page('/admin/subscriptions/sub_none')).status, 404);
    const unknown = await page('/admin/members/699999999999999999');
    assert.equal(unknown.status, 404);
    assert.match(unknown.html, /knows nothing of the Discord account/);
    assert.equal((await page('/admin/members/not-an-id')).status, 400);
  });

  test('staff can read every page', async () => {
    const staff = new Browser();
    await signedIn(world, staff, STAFF);
    for (const path of ['/admin', '/admin/members?q=zoe', `/admin/members/${ZOE.id}`, '/admin/subscriptions/sub_zoe']) {
      const res = await staff.get(`${world.app.url}${path}`);
      assert.equal(res.status, 200, path);
    }
  });

  test('an idle session ends after ADMIN_IDLE_MINUTES, and any session after ADMIN_SESSION_HOURS', async () => {
    const idle = new Browser();
    await signedIn(world, idle, ADMIN);
    clock.advance(29 * 60_000);
    assert.equal((await idle.get(`${world.app.url}/admin`)).status, 200, 'still within the idle limit');
    clock.advance(29 * 60_000);
    assert.equal((await idle.get(`${world.app.url}/admin`)).status, 200, 'each request renews the idle limit');
    clock.advance(31 * 60_000);
    const expired = await idle.get(`${world.app.url}/admin`);
    assert.equal(expired.status, 303);
    assert.match(expired.headers.get('location')!, /^\/admin\/login/);

    const busy = new Browser();
    await signedIn(world, busy, ADMIN);
    for (let i = 0; i < 12 * 3; i++) {
      clock.advance(20 * 60_000);
      const res = await busy.get(`${world.app.url}/admin/members`);
      if (i < 12 * 3 - 1) assert.equal(res.status, 200, `request ${i}`);
      else assert.equal(res.status, 303, 'the absolute limit ends even a busy session');
    }
  });

  test('someone taken off the whitelist is locked out at their next request after the restart', async () => {
    const staff = new Browser();
    await signedIn(world, staff, STAFF);
    await world.restart({ STAFF_DISCORD_IDS: '' });
    const res = await staff.get(`${world.app.url}/admin`);
    assert.equal(res.status, 403);
    assert.ok(world.app.services.audit.list({ action: 'admin.locked_out' }).some((r) => r.discord_id === STAFF.id));
    const again = await staff.get(`${world.app.url}/admin`);
    assert.equal(again.status, 303, 'the session is gone');
  });
});
