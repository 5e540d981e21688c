import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, startWorld, type World } from '../support/world.js';

describe('what a revoked link says', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(() => w.stop());

  let n = 0;
  async function subscriber() {
    const user = { id: String(700000000000000000n + BigInt(++n)), username: `rev${n}` };
    w.discord.addUser(user);
    const email = `rev${n}@example.com`;
    const sub = `sub_rev${n}`;
    await w.event({ subscription_id: sub, customer_email: email });
    return { user, email, sub, link: await w.linkFor(email) };
  }

  for (const event of ['subscription.cancelled', 'subscription.suspended']) {
    test(`after ${event} the last link says the subscription is not active, not that a newer link was sent`, async () => {
      const s = await subscriber();
      const mails = w.smtp.messages.length;
      await w.event({ subscription_id: s.sub, customer_email: s.email, event });
      await w.settle();
      const res = await new Browser().get(s.link);
      assert.equal(res.status, 409);
      const page = await res.text();
      assert.match(page, /not active/);
      assert.match(page, event === 'subscription.cancelled' ? /cancelled/ : /suspended/);
      assert.doesNotMatch(page, /newer link|replaced/);
      assert.equal(w.smtp.messages.length, mails, 'no mail was sent');
    });
  }

  test('a subscription stopped while the subscriber is at Discord: the callback says it is not active', async () => {
    const s = await subscriber();
    const browser = new Browser();
    const toDiscord = await browser.get(s.link);
    w.discord.signIn(s.user.id);
    const back = await browser.get(toDiscord.headers.get('location')!);
    await w.event({ subscription_id: s.sub, customer_email: s.email, event: 'subscription.suspended' });
    const res = await browser.get(back.headers.get('location')!);
    assert.equal(res.status, 409);
    const page = await res.text();
    assert.match(page, /not active/);
    assert.doesNotMatch(page, /newer link|replaced/);
    assert.equal(w.app.services.subscriptions.get(s.sub)?.discord_id, null);
  });

  test('once active again, the old link says why it stopped; a link replaced by a newer one still says that', async () => {
    const s = await subscriber();
    await w.event({ subscription_id: s.sub, customer_email: s.email, event: 'subscription.suspended' });
    await w.event({ subscription_id: s.sub, customer_email: s.email, event: 'subscription.resumed' });
    const newer = await w.linkFor(s.email, 2);
    const stopped = await new Browser().get(s.link);
    assert.equal(stopped.status, 410);
    const page = await stopped.text();
    assert.match(page, /stopped working[\s\S]*suspended or cancelled[\s\S]*href="\/link\/new"/);
    assert.doesNotMatch(page, /replaced/);

    // The resumed subscription's link is then replaced by one asked for on the form.
    const browser = new Browser();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await browser.get(`${w.app.url}/link/new`)).text())![1]!;
    const id = w.app.services.tokens.check(newer.split('/').pop()!).row!.id;
    // Old enough that a new one may be mailed.
    w.app.services.db.prepare('UPDATE link_tokens SET created_at = ? WHERE id = ?').run(new Date(Date.now() - 3_600_000).toISOString(), id);
    await browser.post(`${w.app.url}/link/new`, { email: s.email, _csrf: csrf });
    await w.linkFor(s.email, 3);
    const replaced = await new Browser().get(newer);
    assert.equal(replaced.status, 410);
    assert.match(await replaced.text(), /replaced[\s\S]*newer link was sent/);
  });
});
