import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/server.js';
import { tempDir, testConfig, UNREACHABLE_DISCORD, WEBHOOK_SECRET } from '../support/config.js';
import { startTestServer } from '../support/server.js';
import { linkIn, startSmtp } from '../../stand-ins/smtp.js';
import { Browser } from '../support/world.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';

test('the new-link form mails a subscription at most every few minutes and an address a few times an hour, across restarts, with one answer', async (t) => {
  const dir = tempDir();
  const smtp = await startSmtp();
  const clock = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };
  const config = testConfig(dir.path, { ...UNREACHABLE_DISCORD, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  let app: RunningServer = await startTestServer(config, { clock });
  t.after(async () => {
    await app.stop();
    await smtp.close();
    dir.remove();
  });
  const email = 'flood@example.com';
  const body = eventBody({ subscription_id: 'sub_flood', customer_email: email });
  assert.equal((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 200);
  await smtp.waitFor(1);

  const mails = () => smtp.messages.filter((m) => m.to === email).length;
  const latest = () => linkIn(smtp.messages.filter((m) => m.to === email).at(-1)!.text).split('/').pop()!;
  const status = (token: string) => app.services.tokens.check(token).status;
  const pages: string[] = [];
  async function ask(address = email): Promise<void> {
    const browser = new Browser();
    const form = await (await browser.get(`${app.url}/link/new`)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form)![1]!;
    const res = await browser.post(`${app.url}/link/new`, { email: address, _csrf: csrf });
    assert.equal(res.status, 200);
    pages.push((await res.text()).replace(address, 'EMAIL'));
    await app.services.worker.idle();
  }
  const atMinute = (minutes: number) => (clock.offsetMs = minutes * 60_000);

  // A link mailed a moment ago and still valid: asking again sends nothing and revokes nothing.
  const first = latest();
  await ask();
  await ask();
  assert.equal(mails(), 1);
  assert.equal(status(first), 'valid');

  // A restart forgets nothing: the rule comes from the database.
  await app.stop();
  app = await startTestServer(config, { clock });
  await ask();
  assert.equal(mails(), 1);
  assert.equal(status(first), 'valid');

  // Once the link is older than the resend interval, a new one is mailed and replaces it.
  atMinute(11);
  await ask();
  assert.equal(mails(), 2);
  assert.equal(status(first), 'revoked');
  atMinute(22);
  await ask();
  assert.equal(mails(), 3);

  // Three links to this address in the last hour: the fourth request is refused, and the current link stays valid.
  const third = latest();
  atMinute(33);
  await ask();
  assert.equal(mails(), 3);
  assert.equal(status(third), 'valid');

  // An hour after the first link, the address may get one again.
  atMinute(61);
  await ask();
  assert.equal(mails(), 4);
  assert.equal(status(third), 'revoked');

  // Unknown, known, mailed or refused: the same page.
  await ask('nobody-here@example.com');
  assert.equal(new Set(pages).size, 1, 'the answer depends on the address or on the limit');
});
