import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RunningServer } from '../../src/server.js';
import { tempDir, testConfig, UNREACHABLE_DISCORD, WEBHOOK_SECRET, type TempDir } from '../support/config.js';
import { startTestServer } from '../support/server.js';
import { Browser } from '../support/world.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';

describe('link pages and the new-link form', () => {
  let dir: TempDir;
  let app: RunningServer;
  before(async () => {
    dir = tempDir();
    app = await startTestServer(testConfig(dir.path, UNREACHABLE_DISCORD));
    const body = eventBody({ subscription_id: 'sub_known', customer_email: 'known@example.com' });
    await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body));
    await app.services.worker.idle();
  });
  after(async () => {
    await app.stop();
    dir.remove();
  });
  const linkJobs = () => app.services.db.prepare(`SELECT COUNT(*) FROM jobs WHERE kind = 'link_email'`).pluck().get() as number;
  async function form(browser: Browser) {
    const res = await browser.get(`${app.url}/link/new`);
    assert.equal(res.status, 200);
    return /name="_csrf" value="([^"]+)"/.exec(await res.text())![1]!;
  }

  test('pages carry strict security headers, and the session cookie is HttpOnly and SameSite=Lax', async () => {
    const res = await new Browser().get(`${app.url}/link/new`);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /unsafe-inline/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('x-powered-by'), null);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('arbiter.sid='))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.doesNotMatch(cookie, /Secure/); // APP_URL is http:// in this test; https turns Secure on
  });

  test('unknown, malformed and tampered tokens get the same friendly page', async () => {
    for (const token of ['A'.repeat(43), 'short', '%3Cscript%3E']) {
      const res = await new Browser().get(`${app.url}/link/${token}`);
      assert.equal(res.status, 404);
      const page = await res.text();
      assert.match(page, /not valid/);
      assert.doesNotMatch(page, /<script>/);
    }
  });

  test('the form needs its CSRF token; without it nothing is queued', async () => {
    const before = linkJobs();
    const browser = new Browser();
    await form(browser);
    const missing = await browser.post(`${app.url}/link/new`, { email: 'known@example.com' });
    assert.equal(missing.status, 403);
    const wrong = await browser.post(`${app.url}/link/new`, { email: 'known@example.com', _csrf: 'x'.repeat(43) });
    assert.equal(wrong.status, 403);
    // A token from another session does not count either.
    const other = await form(new Browser());
    assert.equal((await browser.post(`${app.url}/link/new`, { email: 'known@example.com', _csrf: other })).status, 403);
    assert.equal(linkJobs(), before);
  });

  test('known and unknown addresses get the same answer; only the known one gets mail; input is escaped', async () => {
    const browser = new Browser();
    const csrf = await form(browser);
    // The link the webhook mailed is older than the resend interval.
    app.services.db.prepare(`UPDATE link_tokens SET created_at = ? WHERE subscription_id = 'sub_known'`).run(new Date(Date.now() - 3_600_000).toISOString());
    const before = linkJobs();
    const unknown = await browser.post(`${app.url}/link/new`, { email: 'nobody@example.com', _csrf: csrf });
    const known = await browser.post(`${app.url}/link/new`, { email: 'known@example.com', _csrf: csrf });
    assert.equal(unknown.status, 200);
    assert.equal(known.status, 200);
    const strip = (s: string) => s.replace(/nobody@example\.com|known@example\.com/, 'EMAIL');
    assert.equal(strip(await unknown.text()), strip(await known.text()));
    assert.equal(linkJobs(), before + 1);
    const html = await browser.post(`${app.url}/link/new`, { email: '"><script>@x.com', _csrf: csrf });
    assert.equal(html.status, 400);
    assert.doesNotMatch(await html.text(), /<script>/);
  });

  test('a callback without a session is refused without creating one', async () => {
    const sessions = () => {
      const db = new Database(join(app.services.config.dataDir, 'sessions.db'), { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT COUNT(*) FROM sessions').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    const before = sessions();
    for (const query of ['', '?state=forged&code=forged', '?error=access_denied&state=forged']) {
      const res = await new Browser().get(`${app.url}/auth/callback${query}`);
      assert.equal(res.status, 400);
      assert.match(await res.text(), /could not be verified/);
      assert.equal(res.headers.getSetCookie().length, 0);
    }
    assert.equal(sessions(), before);
  });

  test('asking for mail is rate limited per client IP address', async () => {
    const browser = new Browser();
    const csrf = await form(browser);
    let last = 0;
    for (let i = 0; i < 12; i++) last = (await browser.post(`${app.url}/link/new`, { email: `n${i}@example.com`, _csrf: csrf })).status;
    assert.equal(last, 429);
  });
});
