import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN, ADMIN_ENV, csrfFrom, signIn, signedIn, STAFF, STRANGER } from '../support/admin.js';
import { Browser, startWorld, type World } from '../support/world.js';
import { SESSION_COOKIE } from '../../src/http/session.js';
import { WRITES_PER_MINUTE } from '../../src/admin/auth.js';

describe('admin sign-in', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ env: ADMIN_ENV });
  });
  after(() => world.stop());
  const audit = (action: string) => world.app.services.audit.list({ action });

  test('an admin signs in with Discord (scope identify only), and the code leaves the URL by a redirect', async () => {
    const browser = new Browser();
    const { hops, res } = await signIn(world, browser, ADMIN);
    assert.equal(res.status, 200);
    const authorize = new URL(hops.find((h) => h.includes('/oauth2/authorize'))!);
    assert.equal(authorize.searchParams.get('scope'), 'identify');
    assert.equal(Buffer.from(authorize.searchParams.get('state')!, 'base64url').length, 32);
    const callback = hops.findIndex((h) => h.includes('/admin/callback'));
    assert.equal(hops[callback + 1], `${world.app.url}/admin`);
    const html = await res.text();
    assert.match(html, /Dashboard/);
    assert.match(html, /Ada \(admin\)/);
    assert.equal(audit('admin.signed_in').filter((r) => r.discord_id === ADMIN.id).length >= 1, true);
    const revoked = world.discord.requests.filter((r) => r.path.endsWith('/oauth2/token/revoke'));
    assert.ok(revoked.length >= 1, 'the access token is revoked');
  });

  test('someone not on the whitelist is refused and audited; nothing of the panel is shown', async () => {
    const browser = new Browser();
    const { res } = await signIn(world, browser, STRANGER);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /not on this server's list/);
    assert.equal(audit('admin.sign_in_refused').some((r) => r.discord_id === STRANGER.id), true);
    const again = await browser.get(`${world.app.url}/admin`);
    assert.equal(again.status, 303);
    assert.match(again.headers.get('location')!, /^\/admin\/login/);
  });

  test('the session id changes at sign-in (no fixation)', async () => {
    const browser = new Browser();
    const host = new URL(world.app.url).host;
    await browser.get(`${world.app.url}/admin/login`); // makes a session holding the state
    const before = browser.cookie(host, SESSION_COOKIE);
    assert.ok(before);
    world.discord.addUser(ADMIN);
    world.discord.signIn(ADMIN.id);
    await signedIn(world, browser, ADMIN);
    const afterSignIn = browser.cookie(host, SESSION_COOKIE);
    assert.notEqual(afterSignIn, before);
    // The old id is worth nothing.
    const res = await fetch(`${world.app.url}/admin`, { headers: { cookie: `${SESSION_COOKIE}=${before}`, accept: 'text/html' }, redirect: 'manual' });
    assert.equal(res.status, 303);
  });

  test('a forged state, a reused state and a callback without a sign-in in progress are refused', async () => {
    const browser = new Browser();
    world.discord.addUser(ADMIN);
    world.discord.signIn(ADMIN.id);
    const start = await browser.get(`${world.app.url}/admin/login`);
    const authorize = new URL(start.headers.get('location')!);
    const consent = await fetch(authorize, { redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'A'.repeat(43));
    assert.equal((await browser.get(forged.toString())).status, 400);
    // The state was spent by the forged attempt: the real callback is refused too.
    assert.equal((await browser.get(callback.toString())).status, 400);
    assert.equal((await new Browser().get(callback.toString())).status, 400);
    assert.ok(audit('admin.sign_in_rejected').length >= 3);
  });

  test('staff can read but not act: 403 and nothing changes', async () => {
    const browser = new Browser();
    await signedIn(world, browser, STAFF);
    const page = await browser.get(`${world.app.url}/admin`);
    assert.match(await page.text(), /Sam \(staff, read only\)/);
    const before = world.app.services.audit.list({ limit: 1000 }).length;
    const csrf = await csrfFrom(browser, `${world.app.url}/admin`);
    const res = await browser.post(`${world.app.url}/admin/members/${ADMIN.id}/reconcile`, { _csrf: csrf, reason: 'trying my luck' });
    assert.equal(res.status, 403);
    assert.equal(world.app.services.audit.list({ limit: 1000 }).length, before);
  });

  test('logout destroys the session on the server; the old cookie no longer opens the panel', async () => {
    const browser = new Browser();
    await signedIn(world, browser, ADMIN);
    const host = new URL(world.app.url).host;
    const sid = browser.cookie(host, SESSION_COOKIE)!;
    const csrf = await csrfFrom(browser, `${world.app.url}/admin`);
    const missing = await browser.post(`${world.app.url}/admin/logout`, {});
    assert.equal(missing.status, 403, 'logout needs the CSRF token too');
    const out = await browser.post(`${world.app.url}/admin/logout`, { _csrf: csrf });
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/admin/signed-out');
    const res = await fetch(`${world.app.url}/admin`, { headers: { cookie: `${SESSION_COOKIE}=${sid}`, accept: 'text/html' }, redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.ok(audit('admin.signed_out').some((r) => r.discord_id === ADMIN.id));
  });

  test('the session cookie is HttpOnly and SameSite=Lax; panel pages are not cached', async () => {
    world.discord.addUser(ADMIN);
    world.discord.signIn(ADMIN.id);
    const start = await fetch(`${world.app.url}/admin/login`, { redirect: 'manual' });
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    const browser = new Browser();
    await signedIn(world, browser, ADMIN);
    const page = await browser.get(`${world.app.url}/admin`);
    assert.equal(page.headers.get('cache-control'), 'no-store');
  });

  test('a script may send the CSRF token as X-CSRF-Token; a wrong one is 403', async () => {
    const browser = new Browser();
    await signedIn(world, browser, ADMIN);
    const csrf = await csrfFrom(browser, `${world.app.url}/admin`);
    const wrong = await browser.request(`${world.app.url}/admin/logout`, { method: 'POST', headers: { 'x-csrf-token': `${csrf}x` } });
    assert.equal(wrong.status, 403);
    const right = await browser.request(`${world.app.url}/admin/logout`, { method: 'POST', headers: { 'x-csrf-token': csrf } });
    assert.equal(right.status, 303);
  });

  test('the write rate counts all of an admin\'s changes together, whichever page they come from', async () => {
    const browser = new Browser();
    await signedIn(world, browser, ADMIN);
    const csrf = await csrfFrom(browser, `${world.app.url}/admin`);
    const statuses: number[] = [];
    for (let i = 0; i < WRITES_PER_MINUTE; i++) {
      const path = i % 2 === 0 ? `/admin/members/${ADMIN.id}/reconcile` : '/admin/failed/retry-all';
      statuses.push((await browser.post(`${world.app.url}${path}`, { _csrf: csrf, reason: 'x' })).status);
    }
    assert.ok(statuses.every((s) => s === 400), 'each refused for its short reason, but counted');
    const over = await browser.post(`${world.app.url}/admin/failed/retry-all`, { _csrf: csrf, reason: 'x' });
    assert.equal(over.status, 429);
  });
});
